"""The clearing rule through the `compute_clearing` / `crossing` views: tie-breaks, input order,
bounds. (tests/property/test_st_auction.py checks it against the definitions at random.)"""

import ape
import pytest

from deployment.auction import deploy_auction
from deployment.pool import deploy_pool
from tests.unit.auction.conftest import COL, PRICE, SEED_COL, USD, WAD, wad
from tests.unit.auction.helpers import book_orders, post
from tests.unit.auction.model import Order, clear, crossing, evaluate

CS, DS = 1, 10**12
X, Y = SEED_COL * COL, SEED_COL * PRICE * USD


def _as_tuple(c):
    return tuple(c.__dict__.values()) if hasattr(c, "__dict__") else tuple(c)


def test_compute_clearing__volume_tie_goes_to_the_smaller_imbalance(auction):
    """10 bought at 2,100 or better, 10 sold at 1,900 or better: every price between executes
    10; at the pool's own price it need not trade, so the imbalance is (almost) nothing."""
    orders = [Order(True, wad(2_100), 10 * COL), Order(False, wad(1_900), 10 * COL)]
    got = auction.compute_clearing([o.key for o in orders], X, Y, 0)
    assert abs(got.price - PRICE * WAD) <= 1 and got.volume == 10 * COL and got.imbalance <= 1
    for p in (wad(1_900), wad(2_100)):
        other = evaluate(orders, X, Y, p, CS, DS)
        assert other.volume == 10 * COL and other.imbalance > got.imbalance


@pytest.fixture(scope="module")
def coarse_auction(project, deployer, breaker, create_feed, create_oracle, governance):
    """A pool whose collateral has 0 decimals: its quote moves in whole units, so a band of
    prices around its spot executes the same volume with the same imbalance."""
    oracle = create_oracle([create_feed(answer=PRICE)])
    deployed = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        oracle,
        governance=governance,
        collateral_decimals=0,
        debt_decimals=18,
        liquidity_collateral=SEED_COL,
        price=PRICE,
    )
    return deploy_auction(project, deployer, deployed.pool, breaker, governance=governance).auction


@pytest.mark.parametrize(
    "reference, expected", [(wad(1_996), wad(1_997)), (wad(2_002.5), wad(2_002.5)), (wad(2_100), wad(2_003))]
)
def test_compute_clearing__full_tie_goes_to_the_price_nearest_the_reference(
    coarse_auction, reference, expected
):
    orders = [Order(True, wad(2_003), 1), Order(False, wad(1_997), 1)]
    x, y = SEED_COL, SEED_COL * PRICE * WAD
    got = coarse_auction.compute_clearing([o.key for o in orders], x, y, reference)
    assert got.price == expected
    assert _as_tuple(got) == _as_tuple(clear(orders, x, y, reference, 10**18, 1))
    assert (got.volume, got.imbalance) == (1, 0)


def test_compute_clearing__order_of_keys_does_not_matter(auction):
    orders = [Order(i % 2 == 0, wad(1_950 + 7 * i), (i + 1) * COL) for i in range(9)]
    keys = [o.key for o in orders]
    assert _as_tuple(auction.compute_clearing(keys, X, Y, 0)) == _as_tuple(
        auction.compute_clearing(list(reversed(keys)), X, Y, 0)
    )


def test_compute_clearing__matches_the_definitions(auction):
    orders = [
        Order(True, wad(2_010), 3 * COL),
        Order(False, wad(1_950), 10 * COL),
        Order(False, wad(1_990), 5 * COL),
        Order(True, wad(1_990), 2 * COL),
    ]
    assert _as_tuple(auction.compute_clearing([o.key for o in orders], X, Y, PRICE * WAD)) == _as_tuple(
        clear(orders, X, Y, PRICE * WAD, CS, DS)
    )


def test_compute_clearing__empty_pool_reverts(auction):
    with ape.reverts("clearing: pool is empty"):
        auction.compute_clearing([], 0, Y, 0)


def test_crossing__is_the_last_price_where_buyers_cover_sellers(auction, pool, phases, bidder, seller):
    phases.cooldown()
    post(auction, bidder, True, wad(2_010), 3 * COL)
    post(auction, seller, False, wad(1_950), 10 * COL)
    c = auction.crossing()
    assert c == crossing(book_orders(auction), X, Y, CS, DS)
    at, above = (
        evaluate(book_orders(auction), X, Y, c, CS, DS),
        evaluate(book_orders(auction), X, Y, c + 1, CS, DS),
    )
    assert at.sell_side <= at.buy_side and above.sell_side > above.buy_side


def test_order_key__packs_limit_side_and_amount(auction):
    assert auction.order_key(True, wad(2_000), 5) == Order(True, wad(2_000), 5).key
    assert auction.order_key(False, 1, 2**112 - 1) == (1 << 128) | (2**112 - 1)
    with ape.reverts("ReopeningAuction: order out of range"):
        auction.order_key(False, 2**128, 1)
