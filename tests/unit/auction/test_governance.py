"""Deployment, the DLP registry and the bounded parameters: owner only, bounds asserted, old/new logged."""

import ape
import pytest

from tests.constants import ZERO_ADDRESS
from tests.unit.auction.conftest import DLP_SLOTS, MAX_ORDERS, MIN_BUY, MIN_SELL, wad


def test_deploy__reads_the_pool_and_logs_parameters(
    create_auction, pool, breaker, market, governance, collateral, debt, auction_oracle
):
    auction = create_auction()
    assert (auction.POOL(), auction.BREAKER(), auction.MARKET_ID(), auction.ORACLE()) == (
        pool.address,
        breaker.address,
        market,
        auction_oracle.address,
    )
    assert (auction.COLLATERAL(), auction.DEBT()) == (collateral.address, debt.address)
    assert (auction.COLLATERAL_SCALE(), auction.DEBT_SCALE()) == (1, 10**12)
    assert auction.owner() == governance
    receipt = auction.creation_metadata.receipt
    assert receipt.decode_logs(auction.MinimumsSet)[0].new_sell_collateral == MIN_SELL
    [cap] = receipt.decode_logs(auction.OrderCapSet)
    assert (cap.old_max_orders, cap.new_max_orders, cap.old_dlp_slots, cap.new_dlp_slots) == (
        0,
        MAX_ORDERS,
        0,
        DLP_SLOTS,
    )


def test_deploy__pool_without_breaker_reverts(project, deployer, governance, collateral, debt):
    unguarded = project.GuardedPool.deploy(
        collateral,
        debt,
        30,
        ZERO_ADDRESS,
        0,
        ZERO_ADDRESS,
        500,
        60,
        900,
        governance,
        "LP",
        "LP",
        sender=deployer,
    )
    with ape.reverts("ReopeningAuction: pool has no breaker"):
        project.ReopeningAuction.deploy(
            unguarded, governance, MIN_SELL, MIN_BUY, MAX_ORDERS, DLP_SLOTS, sender=deployer
        )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"max_orders": 1}, "ReopeningAuction: order cap out of bounds"),
        ({"max_orders": 257}, "ReopeningAuction: order cap out of bounds"),
        ({"dlp_slots": MAX_ORDERS // 2 + 1}, "ReopeningAuction: dlp slots above half the cap"),
        ({"min_sell_collateral": 0}, "ReopeningAuction: minimum sell out of bounds"),
        ({"min_buy_debt": 2**96 + 1}, "ReopeningAuction: minimum buy out of bounds"),
        ({"owner": ZERO_ADDRESS}, "ReopeningAuction: owner is the zero address"),
    ],
)
@pytest.mark.bad_input
def test_deploy__parameter_out_of_bounds_reverts(create_auction, overrides, message):
    with ape.reverts(message):
        create_auction(**overrides)


def test_add_dlp__governance(auction, governance, anyone):
    receipt = auction.add_dlp(anyone, sender=governance)
    assert receipt.decode_logs(auction.DlpAdded) == [auction.DlpAdded(actor=governance, dlp=anyone)]
    assert auction.is_dlp(anyone)


@pytest.mark.parametrize("who", ["dlp", "anyone"])
def test_add_dlp__not_governance_reverts(auction, request, who, bidder):
    with ape.reverts("ownable: caller is not the owner"):
        auction.add_dlp(bidder, sender=request.getfixturevalue(who))


def test_add_dlp__twice_or_zero_reverts(auction, governance, dlp):
    with ape.reverts("ReopeningAuction: already a dlp"):
        auction.add_dlp(dlp, sender=governance)
    with ape.reverts("ReopeningAuction: dlp is the zero address"):
        auction.add_dlp(ZERO_ADDRESS, sender=governance)


def test_remove_dlp__governance_and_no_more_halt_posts(auction, phases, governance, dlp):
    receipt = auction.remove_dlp(dlp, sender=governance)
    assert receipt.decode_logs(auction.DlpRemoved) == [auction.DlpRemoved(actor=governance, dlp=dlp)]
    phases.halt()
    with ape.reverts("ReopeningAuction: only designated liquidity providers post while halted"):
        auction.post_order(False, wad(1_990), 10**18, sender=dlp)


def test_remove_dlp__unknown_or_not_governance_reverts(auction, governance, dlp, anyone):
    with ape.reverts("ReopeningAuction: not a dlp"):
        auction.remove_dlp(anyone, sender=governance)
    with ape.reverts("ownable: caller is not the owner"):
        auction.remove_dlp(dlp, sender=anyone)


def test_set_minimums__governance_logs_old_and_new(auction, governance):
    receipt = auction.set_minimums(5, 7, sender=governance)
    assert receipt.decode_logs(auction.MinimumsSet) == [
        auction.MinimumsSet(
            actor=governance,
            old_sell_collateral=MIN_SELL,
            new_sell_collateral=5,
            old_buy_debt=MIN_BUY,
            new_buy_debt=7,
        )
    ]
    assert (auction.min_sell_collateral(), auction.min_buy_debt()) == (5, 7)


@pytest.mark.parametrize(
    "sell, buy, message",
    [
        (0, 1, "ReopeningAuction: minimum sell out of bounds"),
        (2**96 + 1, 1, "ReopeningAuction: minimum sell out of bounds"),
        (1, 0, "ReopeningAuction: minimum buy out of bounds"),
        (1, 2**96 + 1, "ReopeningAuction: minimum buy out of bounds"),
    ],
)
@pytest.mark.threat
def test_set_minimums__out_of_bounds_reverts(auction, governance, sell, buy, message):
    with ape.reverts(message):
        auction.set_minimums(sell, buy, sender=governance)


def test_set_minimums__bounds_inclusive(auction, governance):
    auction.set_minimums(1, 2**96, sender=governance)
    auction.set_minimums(2**96, 1, sender=governance)


def test_set_minimums__not_governance_reverts(auction, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        auction.set_minimums(5, 7, sender=anyone)


def test_set_order_cap__governance_logs_old_and_new(auction, governance):
    receipt = auction.set_order_cap(256, 128, sender=governance)
    assert receipt.decode_logs(auction.OrderCapSet) == [
        auction.OrderCapSet(
            actor=governance,
            old_max_orders=MAX_ORDERS,
            new_max_orders=256,
            old_dlp_slots=DLP_SLOTS,
            new_dlp_slots=128,
        )
    ]
    auction.set_order_cap(2, 0, sender=governance)  # the lower bound


@pytest.mark.parametrize(
    "cap, slots, message",
    [
        (1, 0, "ReopeningAuction: order cap out of bounds"),
        (257, 0, "ReopeningAuction: order cap out of bounds"),
        (100, 51, "ReopeningAuction: dlp slots above half the cap"),
    ],
)
def test_set_order_cap__out_of_bounds_reverts(auction, governance, cap, slots, message):
    with ape.reverts(message):
        auction.set_order_cap(cap, slots, sender=governance)


def test_set_order_cap__not_governance_reverts(auction, dlp):
    with ape.reverts("ownable: caller is not the owner"):
        auction.set_order_cap(100, 10, sender=dlp)
