"""GuardedPool additions: its auction (governance), and the auction's trade at the clearing price
(only during AUCTION, never below the price, to the price up to rounding, band centred there)."""

import ape
import pytest

from tests.constants import AUCTION, NORMAL, ZERO_ADDRESS
from tests.unit.auction.conftest import COL, PRICE, SEED_COL, USD, WAD


@pytest.fixture
def as_auction(accounts, chain, auction, collateral, debt, deployer):
    """The auction's address as a sender, holding tokens and approving the pool."""
    chain.set_balance(auction.address, 10**18)
    account = accounts[auction.address]
    return account


@pytest.fixture
def in_auction(phases, breaker, market, pool, anyone):
    phases.cooldown()
    phases.auction()
    breaker.sync(market, sender=anyone)
    assert pool.breaker_state() == AUCTION


def test_set_auction__governance_logs_old_and_new(pool, auction, governance):
    receipt = pool.set_auction(ZERO_ADDRESS, sender=governance)
    assert receipt.decode_logs(pool.AuctionSet) == [
        pool.AuctionSet(actor=governance, old=auction, new=ZERO_ADDRESS)
    ]
    assert pool.auction() == ZERO_ADDRESS


def test_set_auction__not_owner_reverts(pool, auction, anyone):
    with ape.reverts("ownable: caller is not the owner"):
        pool.set_auction(auction, sender=anyone)


def test_set_auction__not_a_contract_reverts(pool, governance, anyone):
    with ape.reverts("GuardedPool: auction is not a contract"):
        pool.set_auction(anyone, sender=governance)


def test_clear_auction__at_spot_centres_the_band(pool, in_auction, as_auction):
    spot = pool.spot_price()
    reserves = pool.reserves()
    receipt = pool.clear_auction(spot, 0, 0, sender=as_auction)
    assert receipt.decode_logs(pool.AuctionCleared) == [
        pool.AuctionCleared(
            actor=as_auction,
            price=spot,
            collateral_in=0,
            debt_in=0,
            reserve_collateral=reserves[0],
            reserve_debt=reserves[1],
            old_centre=PRICE * WAD,
        )
    ]
    assert (pool.band().centre, pool.band().updated_at) == (spot, receipt.timestamp)


def test_clear_auction__later_normal_push_marks_the_centre_stale(
    pool, breaker, market, in_auction, as_auction, accounts, chain
):
    """The centre survives the NORMAL push only inside the auction's own transaction."""
    pool.clear_auction(pool.spot_price(), 0, 0, sender=as_auction)
    chain.set_balance(breaker.address, 10**18)
    pool.on_breaker_state(market, NORMAL, 0, sender=accounts[breaker.address])
    assert pool.band().updated_at == 0


def test_clear_auction__not_the_auction_reverts(pool, in_auction, anyone):
    with ape.reverts("GuardedPool: caller is not the auction"):
        pool.clear_auction(PRICE * WAD, 0, 0, sender=anyone)


def test_clear_auction__no_auction_set_reverts(pool, in_auction, governance, anyone):
    pool.set_auction(ZERO_ADDRESS, sender=governance)
    with ape.reverts("GuardedPool: caller is not the auction"):
        pool.clear_auction(PRICE * WAD, 0, 0, sender=anyone)


@pytest.mark.threat
def test_clear_auction__outside_auction_reverts(pool, as_auction):
    assert pool.breaker_state() == NORMAL
    with ape.reverts("GuardedPool: market not in auction"):
        pool.clear_auction(PRICE * WAD, 0, 0, sender=as_auction)


@pytest.mark.parametrize("price", [0, 2**128])
def test_clear_auction__price_out_of_range_reverts(pool, in_auction, as_auction, price):
    with ape.reverts("GuardedPool: clearing price out of range"):
        pool.clear_auction(price, 0, 0, sender=as_auction)


@pytest.mark.threat
def test_clear_auction__trade_below_the_price_reverts(pool, in_auction, as_auction):
    """Buying 1 collateral at 2,000 but paying 2,000.000001: worse than the price for the pool."""
    with ape.reverts("GuardedPool: trade below the clearing price"):
        pool.clear_auction(PRICE * WAD, COL, -(PRICE * USD + 1), sender=as_auction)


@pytest.mark.threat
def test_clear_auction__trade_that_misses_the_price_reverts(pool, in_auction, as_auction):
    """Fair at the price, but 100 collateral moves the pool ~20% away from a price of 2,000."""
    with ape.reverts("GuardedPool: auction trade misses the clearing price"):
        pool.clear_auction(PRICE * WAD, 100 * COL, -100 * PRICE * USD, sender=as_auction)


def test_clear_auction__pulls_and_pays_the_legs(pool, in_auction, as_auction, collateral, debt, deployer):
    """The pool's own quote at 1,990: it buys (Y/p - X)/2 collateral and pays for it at 1,990."""
    price = 1_990 * WAD
    x, y = pool.reserves()
    quote = (y * 10**12 * WAD // price - x) // 2
    paid = quote * price // (WAD * 10**12)
    collateral.mint(as_auction, quote, sender=deployer)
    collateral.approve(pool, quote, sender=as_auction)
    before = debt.balanceOf(as_auction)
    pool.clear_auction(price, quote, -paid, sender=as_auction)
    assert pool.reserves() == (x + quote, y - paid)
    assert debt.balanceOf(as_auction) == before + paid
    assert abs(pool.spot_price() - price) * 10**12 <= price
    assert (x + quote) * (y - paid) >= x * y
    assert x == SEED_COL * COL
