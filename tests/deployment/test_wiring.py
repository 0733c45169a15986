"""The one deploy path (`deployment.wiring`): its transactions, in their order, through a recording chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from deployment.wiring import (
    NO_DEADLINE,
    ZERO_ADDRESS,
    AuctionTerms,
    PoolTerms,
    default_minimums,
    deploy_guarded_pool,
    guarded_pool_args,
    register_pool_market,
    seed_pool,
    wire_pool_market,
)

GOVERNANCE, DEPLOYER, LP, KEEPER, DLP = (
    "0x" + "0a" * 20,
    "0x" + "0d" * 20,
    "0x" + "01" * 20,
    "0x" + "0c" * 20,
    "0x" + "0e" * 20,
)


@dataclass(frozen=True)
class Handle:
    name: str
    address: str


class RecordingChain:
    """A `Chain` that records every transaction; balances start at `balance`, a registration counts."""

    def __init__(self, balance: int = 0, market_count: int = 0) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.balance = balance
        self.markets = market_count
        self.deployed = 0

    def deploy(self, name: str, *args: Any, sender: Any) -> Handle:
        self.deployed += 1
        self.sent.append(("deploy", name, args, sender))
        return Handle(name, f"0x{self.deployed:040x}")

    def transact(self, contract: Handle, fn: str, *args: Any, sender: Any) -> None:
        self.sent.append((contract.name, fn, args, sender))
        if fn == "register_market":
            self.markets += 1

    def call(self, contract: Handle, fn: str, *args: Any) -> Any:
        return {"balanceOf": self.balance, "market_count": self.markets}.get(fn, f"{fn}()")

    def address(self, who: Any) -> str:
        return str(who.address if hasattr(who, "address") else who)

    def mine(self) -> None:
        self.sent.append(("mine",))


BREAKER, ORACLE, POOL = (
    Handle("breaker", "0x" + "b0" * 20),
    Handle("oracle", "0x" + "0f" * 20),
    Handle("pool", "0x" + "90" * 20),
)
COLLATERAL, DEBT = Handle("collateral", "0x" + "c0" * 20), Handle("debt", "0x" + "de" * 20)


def test_guarded_pool_args__unguarded_pool_gets_zero_addresses():
    args = guarded_pool_args(
        RecordingChain(),
        COLLATERAL,
        DEBT,
        breaker=None,
        market_id=0,
        oracle=None,
        owner=GOVERNANCE,
        terms=PoolTerms(),
    )
    assert args == (
        COLLATERAL.address,
        DEBT.address,
        30,
        ZERO_ADDRESS,
        0,
        ZERO_ADDRESS,
        500,
        60,
        900,
        GOVERNANCE,
        "GuardedPool LP",
        "GPLP",
    )


def test_deploy_guarded_pool__deploys_with_the_constructor_arguments():
    chain = RecordingChain()
    terms = PoolTerms(fee_bps=5, band_bps=300, name="P", symbol="S")
    deploy_guarded_pool(
        chain,
        COLLATERAL,
        DEBT,
        breaker=BREAKER,
        market_id=3,
        oracle=ORACLE,
        owner=GOVERNANCE,
        terms=terms,
        sender=DEPLOYER,
    )
    assert chain.sent == [
        (
            "deploy",
            "GuardedPool",
            (
                COLLATERAL.address,
                DEBT.address,
                5,
                BREAKER.address,
                3,
                ORACLE.address,
                300,
                60,
                900,
                GOVERNANCE,
                "P",
                "S",
            ),
            DEPLOYER,
        )
    ]


def test_seed_pool__mints_the_shortfall_approves_adds_then_closes_the_block():
    chain = RecordingChain(balance=40)
    seed_pool(
        chain, POOL, ((COLLATERAL, 100), (DEBT, 30)), provider=LP, minter=GOVERNANCE, allowance=2**256 - 1
    )
    assert chain.sent == [
        ("collateral", "mint", (LP, 60), GOVERNANCE),
        ("collateral", "approve", (POOL.address, 2**256 - 1), LP),
        ("debt", "approve", (POOL.address, 2**256 - 1), LP),  # holds 40, needs 30: nothing minted
        ("pool", "add_liquidity", (100, 30, 0, NO_DEADLINE), LP),
        ("mine",),
    ]


def test_wire_pool_market__every_step_in_order():
    chain = RecordingChain(market_count=2)
    min_sell, min_buy = default_minimums(18, 6)
    auction = wire_pool_market(
        chain,
        POOL,
        breaker=BREAKER,
        market_id=2,
        oracle=ORACLE,
        governance=GOVERNANCE,
        sender=DEPLOYER,
        register=[7, 8],
        grants=(("KEEPER_ROLE", KEEPER),),
        auction=AuctionTerms(min_sell, min_buy, dlps=(DLP,)),
    )
    assert auction == Handle("ReopeningAuction", f"0x{1:040x}")
    assert chain.sent == [
        ("breaker", "register_market", (POOL.address, ORACLE.address, [7, 8]), GOVERNANCE),
        ("breaker", "grantRole", ("KEEPER_ROLE()", KEEPER), GOVERNANCE),
        ("breaker", "add_consumer", (2, POOL.address), GOVERNANCE),
        ("deploy", "ReopeningAuction", (POOL.address, GOVERNANCE, 10**16, 10**6, 200, 50), DEPLOYER),
        ("pool", "set_auction", (auction.address,), GOVERNANCE),
        ("breaker", "set_auction", (2, auction.address), GOVERNANCE),
        ("ReopeningAuction", "add_dlp", (DLP,), GOVERNANCE),
        ("pool", "refresh_band", (), DEPLOYER),
    ]


def test_wire_pool_market__existing_market_without_band_only_adds_the_consumer():
    chain = RecordingChain(market_count=1)
    wire_pool_market(
        chain,
        POOL,
        breaker=BREAKER,
        market_id=0,
        oracle=ORACLE,
        governance=GOVERNANCE,
        sender=DEPLOYER,
        band=False,
    )
    assert chain.sent == [("breaker", "add_consumer", (0, POOL.address), GOVERNANCE)]


def test_wire_pool_market__without_breaker_only_centres_the_band():
    chain = RecordingChain()
    wire_pool_market(
        chain,
        POOL,
        breaker=None,
        market_id=0,
        oracle=ORACLE,
        governance=GOVERNANCE,
        sender=DEPLOYER,
        register=[1],
    )
    assert chain.sent == [("pool", "refresh_band", (), DEPLOYER)]


def test_register_pool_market__raced_registration_raises():
    chain = RecordingChain(market_count=5)  # another market registered after the pool was deployed for 4
    with pytest.raises(RuntimeError, match="market registered as 5, pool was deployed for 4"):
        register_pool_market(chain, BREAKER, POOL, ORACLE, [1], market_id=4, governance=GOVERNANCE)
