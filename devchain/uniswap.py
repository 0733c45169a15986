"""A Uniswap V2 pair as a breaker market on a dev chain: the real pair (the npm build of @uniswap/v2-core),
read through UniswapV2Venue, a feed and reference oracle at the pair's price, registered in a `DevSystem`'s
breaker. A venue we do not control and that keeps no block-start history: V_P's high on it comes only
from `poke` observations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.contract import Contract

from devchain import DevSystem, deploy, transact
from devchain.npm import npm_artifact
from keeper import params as P
from keeper.chain import json_rpc

WAD = 10**18
FEE_KEPT = 997  # per 1,000: the pair's 0.3% swap fee


def _deploy_artifact(w3: Web3, path: str, *args: Any, sender: str) -> Contract:
    abi, bytecode = npm_artifact(path)
    receipt = transact(w3, w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args), sender)
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


@dataclass
class DevPairMarket:
    """A breaker market whose venue is a Uniswap V2 pair (both tokens 18 decimals)."""

    system: DevSystem
    market_id: int
    pair: Contract
    venue: Contract
    collateral: Contract
    debt: Contract
    oracle: Contract
    feed: Contract

    def reserves(self) -> tuple[int, int]:
        """(collateral, debt) reserves."""
        r0, r1, _ = self.pair.functions.getReserves().call()
        collateral_first = self.pair.functions.token0().call() == self.collateral.address
        return (r0, r1) if collateral_first else (r1, r0)

    def sell_to(self, price: float, seller: str) -> None:
        """Sells collateral into the pair (minted to `seller`, one swap, mined) until its spot is about
        `price`, debt per collateral; the pair's own fee stays in its reserves, as in any swap."""
        transact(self.system.w3, self.swap_to(price, seller), seller)

    def swap_to(self, price: float, seller: str) -> Any:
        """The pair's `swap` call that `sell_to` sends, with its collateral already paid into the pair
        (mined; the reserves do not move until the swap): a test sends it when and how it likes."""
        x, y = self.reserves()
        target_x = math.isqrt(x * y * 10**9 // round(price * 10**9))
        if target_x <= x:
            raise ValueError(f"the pair is already at or below {price} (spot {y / x:.4f})")
        amount_in = (target_x - x) * 1_000 // FEE_KEPT
        out = amount_in * FEE_KEPT * y // (x * 1_000 + amount_in * FEE_KEPT)
        w3, gov = self.system.w3, self.system.governance
        transact(w3, self.collateral.functions.mint(seller, amount_in), gov)
        transact(w3, self.collateral.functions.transfer(self.pair.address, amount_in), seller)
        collateral_first = self.pair.functions.token0().call() == self.collateral.address
        return self.pair.functions.swap(*((0, out) if collateral_first else (out, 0)), seller, b"")


def deploy_pair_market(
    system: DevSystem,
    *,
    price: float = 1.0,
    liquidity: int = 10_000_000,
    params: dict[str, int] | None = None,
) -> DevPairMarket:
    """Adds a market to `system`: a Uniswap V2 pair seeded with `liquidity` collateral at `price` (the
    governance account holds the LP tokens), its UniswapV2Venue, a feed and oracle at `price`, registered
    with `params` (defaults otherwise)."""
    w3, gov, breaker = system.w3, system.governance, system.breaker
    collateral = deploy(w3, "MockERC20", "Pair collateral", "COL", 18, sender=gov)
    debt = deploy(w3, "MockERC20", "Pair debt", "DEBT", 18, sender=gov)
    factory = _deploy_artifact(w3, "@uniswap/v2-core/build/UniswapV2Factory.json", gov, sender=gov)
    transact(w3, factory.functions.createPair(collateral.address, debt.address), gov)
    pair_abi, _ = npm_artifact("@uniswap/v2-core/build/UniswapV2Pair.json")
    pair = w3.eth.contract(
        address=factory.functions.getPair(collateral.address, debt.address).call(), abi=pair_abi
    )
    for token, amount in ((collateral, liquidity * WAD), (debt, int(liquidity * price * WAD))):
        transact(w3, token.functions.mint(pair.address, amount), gov)
    transact(w3, pair.functions.mint(gov), gov)
    # The venue refuses a block the pair changed in (by its timestamp; anvil may give blocks of one
    # second the same one): registering reads it in a later second.
    json_rpc(w3, "evm_increaseTime", [1])
    json_rpc(w3, "evm_mine", [])
    venue = deploy(w3, "UniswapV2Venue", pair.address, collateral.address, sender=gov)
    feed = deploy(w3, "MockAggregator", 8, round(price * 10**8), sender=gov)
    oracle = deploy(w3, "ReferenceOracle", 1, sender=gov)
    transact(w3, oracle.functions.add_feed(feed.address, 86_400), gov)
    market_id = breaker.functions.market_count().call()
    values = P.as_array(P.resolve(params))
    transact(w3, breaker.functions.register_market(venue.address, oracle.address, values), gov)
    return DevPairMarket(system, market_id, pair, venue, collateral, debt, oracle, feed)
