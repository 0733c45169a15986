"""settle: one uniform price on-chain, the pool traded to it with its band centred there, the market
reopened by the auction (AUCTION -> NORMAL, reason REASON_AUCTION_SETTLED)."""

import ape
import pytest

from tests.constants import AUCTION, NORMAL
from tests.helpers import advance
from tests.unit.auction.conftest import COL, PRICE, SEED_COL, WAD, wad
from tests.unit.auction.helpers import book_orders, post, settle
from tests.unit.auction.model import clear, evaluate, settle_flows

CS, DS = 1, 10**12  # collateral 18 decimals, debt 6


@pytest.fixture
def crash_book(auction, phases, dlp, bidder, seller):
    """A DLP sell posted while halted, then a bid and a panic sell in cool-down."""
    phases.halt()
    post(auction, dlp, False, wad(1_990), 5 * COL)
    phases.cooldown()
    post(auction, bidder, True, wad(2_010), 3 * COL)
    post(auction, seller, False, wad(1_950), 10 * COL)
    phases.auction()
    return book_orders(auction)


def test_settle__clears_at_the_volume_maximising_price(auction, breaker, market, pool, crash_book, anyone):
    x, y = pool.reserves()
    expected = clear(crash_book, x, y, PRICE * WAD, CS, DS)
    round_ = auction.current_round()
    receipt = settle(auction, anyone)
    flows = settle_flows(crash_book, expected, CS, DS)
    # The sells at 1,950 and the bid at 2,010 cross; the pool buys the other 7 collateral;
    # the DLP's sell at 1,990 is above the price and stays unfilled.
    assert flows["sold"] == 10 * COL and flows["bought"] == 3 * COL
    assert receipt.decode_logs(auction.AuctionSettled) == [
        auction.AuctionSettled(
            actor=anyone,
            round=round_,
            price=expected.price,
            volume=10 * COL,
            imbalance=expected.imbalance,
            bought=3 * COL,
            sold=10 * COL,
            pool_collateral_in=7 * COL,
            pool_debt_in=flows["pool_debt_in"],
            orders=3,
            reference=PRICE * WAD,
        )
    ]
    assert wad(1_950) < expected.price < wad(1_990)
    assert receipt.return_value == expected.price
    advanced = receipt.decode_logs(breaker.StateAdvanced)
    assert [(e.reason, e.old_state, e.new_state) for e in advanced] == [
        (breaker.REASON_COOLDOWN_ELAPSED(), 4, AUCTION),
        (breaker.REASON_AUCTION_SETTLED(), AUCTION, NORMAL),
    ]
    assert advanced[-1].actor == auction.address
    assert breaker.state(market) == NORMAL and pool.breaker_state() == NORMAL
    # Nothing else could have done better: every other candidate executes less volume.
    for p in (wad(1_950), wad(1_990), wad(2_010), expected.price - 1, expected.price + 1):
        assert evaluate(crash_book, x, y, p, CS, DS).volume <= expected.volume


def test_settle__reopens_pool_at_clearing_price_with_band_centred(
    auction, pool, crash_book, anyone, seller, collateral
):
    x, y = pool.reserves()
    receipt = settle(auction, anyone)
    price = receipt.return_value
    new_x, new_y = pool.reserves()
    assert abs(pool.spot_price() - price) * 10**12 <= price  # at the clearing price, to 1e-12
    assert new_x * new_y >= x * y  # the uniform price beats the curve for LPs
    band = pool.band()
    assert (band.centre, band.updated_at) == (price, receipt.timestamp)
    [cleared] = receipt.decode_logs(pool.AuctionCleared)
    assert (cleared.actor, cleared.price, cleared.collateral_in) == (auction, price, 7 * COL)
    assert (cleared.reserve_collateral, cleared.reserve_debt, cleared.old_centre) == (
        new_x,
        new_y,
        PRICE * WAD,
    )
    # Trading is open, inside a band centred on the clearing price (5% below it is the floor).
    collateral.approve(pool, 2**256 - 1, sender=seller)
    pool.swap(True, COL, 0, 2**64, sender=seller)
    with ape.reverts("GuardedPool: price below band"):
        pool.swap(True, 60 * COL, 0, 2**64, sender=seller)


def test_settle__in_cooldown_reverts(auction, phases, bidder, anyone):
    phases.cooldown()
    post(auction, bidder, True, wad(2_010), COL)
    with ape.reverts("ReopeningAuction: market is not in auction"):
        settle(auction, anyone)


def test_settle__twice_reverts(auction, crash_book, anyone):
    settle(auction, anyone)
    with ape.reverts("ReopeningAuction: market is not in auction"):
        settle(auction, anyone)


def test_settle__after_auction_elapsed_reverts(auction, crash_book, phases, anyone):
    phases.elapse_auction()
    with ape.reverts("ReopeningAuction: market is not in auction"):
        settle(auction, anyone)


def test_settle__empty_book_reopens_at_spot(auction, pool, phases, breaker, market, anyone):
    phases.cooldown()
    phases.auction()
    spot = pool.spot_price()
    reserves = pool.reserves()
    receipt = settle(auction, anyone)
    [event] = receipt.decode_logs(auction.AuctionSettled)
    assert (event.volume, event.orders, event.pool_collateral_in, event.pool_debt_in) == (0, 0, 0, 0)
    assert event.price == spot == PRICE * WAD  # the reference breaks the tie inside the pool's dead band
    assert pool.reserves() == reserves
    assert breaker.state(market) == NORMAL


def test_settle__marginal_buys_share_pro_rata(
    auction, pool, phases, dlp, bidder, other_bidder, seller, anyone
):
    """Excess demand at the clearing level: bids above it fill, bids at it share what is left."""
    phases.halt()
    post(auction, dlp, True, wad(1_990), 40 * COL)
    phases.cooldown()
    post(auction, bidder, True, wad(2_100), 30 * COL)
    post(auction, other_bidder, True, wad(1_990), 60 * COL)
    post(auction, seller, False, wad(1_900), 100 * COL)
    phases.auction()
    orders = book_orders(auction)
    x, y = pool.reserves()
    expected = clear(orders, x, y, PRICE * WAD, CS, DS)
    assert expected.price == wad(1_990)
    assert expected.buy_marginal == 100 * COL and 0 < expected.buy_marginal_fill < 100 * COL
    receipt = settle(auction, anyone)
    assert receipt.return_value == wad(1_990)
    s = auction.settlement(auction.current_round())
    assert (s.price, s.buy_marginal, s.buy_marginal_fill) == (
        wad(1_990),
        100 * COL,
        expected.buy_marginal_fill,
    )
    assert s.settled_at == receipt.timestamp
    filled = {who: auction.claimable(i)[0] for i, who in enumerate(("dlp", "bidder", "other", "seller"))}
    assert filled["bidder"] == 30 * COL and filled["seller"] == 100 * COL
    assert filled["dlp"] == 40 * COL * expected.buy_marginal_fill // (100 * COL)
    assert filled["other"] == 60 * COL * expected.buy_marginal_fill // (100 * COL)


def test_settle__pool_absorbs_a_one_sided_sell(auction, pool, phases, seller, anyone):
    phases.cooldown()
    post(auction, seller, False, wad(1_800), 20 * COL)
    phases.auction()
    receipt = settle(auction, anyone)
    [event] = receipt.decode_logs(auction.AuctionSettled)
    # The pool alone balances the sell: p = Y / (X + 2 * 20).
    assert event.price in (
        PRICE * SEED_COL * WAD // (SEED_COL + 40),
        PRICE * SEED_COL * WAD // (SEED_COL + 40) + 1,
    )
    assert (event.sold, event.bought, event.pool_collateral_in) == (20 * COL, 0, 20 * COL)
    assert auction.claimable(0)[2] == 20 * event.price // 10**12  # the seller's debt, rounded down


def test_settle__sell_limit_stops_the_fall_and_rations_sellers(auction, pool, phases, seller, anyone):
    """500 collateral for sale at 1,950 or better: the pool takes what it would at 1,950, no more."""
    phases.cooldown()
    post(auction, seller, False, wad(1_950), 500 * COL)
    phases.auction()
    x, y = pool.reserves()
    q = evaluate([], x, y, wad(1_950), CS, DS).q
    receipt = settle(auction, anyone)
    [event] = receipt.decode_logs(auction.AuctionSettled)
    assert (event.price, event.sold, event.pool_collateral_in) == (wad(1_950), q, q)
    assert event.imbalance == 500 * COL - q
    filled, collateral_out, debt_out = auction.claimable(0)
    assert (filled, collateral_out) == (q, 500 * COL - q)
    assert debt_out == q * wad(1_950) // (WAD * 10**12)  # the seller's proceeds, rounded down


def test_settle__not_the_markets_auction_reverts(auction, breaker, market, crash_book, governance, anyone):
    breaker.set_auction(market, "0x0000000000000000000000000000000000000000", sender=governance)
    with ape.reverts("ReopeningAuction: not the market's auction in the breaker"):
        settle(auction, anyone)


def test_settle__not_the_pools_auction_reverts(auction, pool, crash_book, governance, anyone):
    pool.set_auction("0x0000000000000000000000000000000000000000", sender=governance)
    with ape.reverts("ReopeningAuction: not the pool's auction"):
        settle(auction, anyone)


def test_settle__ignores_the_book_of_an_older_round(auction, phases, bidder, dlp, anyone):
    phases.cooldown()
    post(auction, bidder, True, wad(2_100), 5 * COL)
    phases.halt()  # re-trip: the first round is void
    phases.cooldown()
    phases.auction()
    receipt = settle(auction, anyone)
    assert receipt.decode_logs(auction.AuctionSettled)[0].orders == 0


def test_settle__pool_value_at_the_price_never_falls(auction, pool, crash_book, anyone):
    x, y = pool.reserves()
    price = settle(auction, anyone).return_value
    new_x, new_y = pool.reserves()
    # The reserves' value at the clearing price, in 18-decimal debt units (debt has 6 decimals).
    assert new_x * price // WAD + new_y * 10**12 >= x * price // WAD + y * 10**12


@pytest.fixture
def flash(project, deployer, collateral, debt):
    """An attacker contract that changes the pool's liquidity around a settle in one transaction."""
    contract = project.FlashLiquidity.deploy(sender=deployer)
    collateral.mint(contract, 100_000 * COL, sender=deployer)
    debt.mint(contract, 200_000_000 * 10**6, sender=deployer)
    return contract


@pytest.mark.threat
def test_settle__liquidity_added_inside_the_settling_transaction_does_not_steer(
    auction, breaker, market, pool, crash_book, flash, anyone
):
    """The attack: flash-add 100x the pool's liquidity, settle, remove it. With that depth the pool
    would take the book's whole imbalance near its pre-halt price; deposits are closed in AUCTION,
    so the attack reverts, and the settlement clears at the price of the real depth."""
    x, y = pool.reserves()
    steered = clear(crash_book, 101 * x, 101 * y, PRICE * WAD, CS, DS)
    honest = clear(crash_book, x, y, PRICE * WAD, CS, DS)
    assert steered.price - honest.price > 20 * WAD  # what the flash liquidity would buy: ~25 of 2,000
    with ape.reverts("GuardedPool: deposits closed until the market reopens"):
        flash.add_settle_remove(pool, auction, 100 * x, 100 * y, auction.crossing(), sender=anyone)
    assert breaker.state(market) == AUCTION
    assert settle(auction, anyone).return_value == honest.price
    assert breaker.state(market) == NORMAL


@pytest.mark.threat
def test_settle__liquidity_removed_inside_the_settling_transaction_does_not_steer(
    auction, breaker, market, pool, crash_book, flash, deployer, anyone
):
    """An LP with 9/10 of the pool pulls it, settles against the thin pool and puts it back in one
    transaction: the put-back is refused (no deposits in the block the pool reopens), so the
    transaction reverts and the settlement clears at the price of the real depth."""
    x, y = pool.reserves()
    thin = clear(crash_book, x // 10, y // 10, PRICE * WAD, CS, DS)
    honest = clear(crash_book, x, y, PRICE * WAD, CS, DS)
    assert honest.price - thin.price > 10 * WAD
    shares = pool.balanceOf(deployer) * 9 // 10
    pool.transfer(flash, shares, sender=deployer)
    with ape.reverts("GuardedPool: deposits closed in the reopening block"):
        flash.remove_settle_add(pool, auction, shares, auction.crossing(), sender=anyone)
    assert breaker.state(market) == AUCTION
    assert settle(auction, anyone).return_value == honest.price
    assert breaker.state(market) == NORMAL


@pytest.mark.threat
def test_settle__liquidity_withdrawn_before_the_settle_counts_as_gone(
    auction, breaker, market, pool, crash_book, deployer, anyone, fund, collateral, debt
):
    """What is left to an LP: liquidity withdrawn before the settle is real depth gone, and the
    clearing uses the thinner pool (an earlier version cleared against it a block later). The
    liquidity can come back only from the block after the reopening."""
    x, y = pool.reserves()
    pool.remove_liquidity(pool.balanceOf(deployer) * 9 // 10, 0, 0, sender=deployer)
    thin_x, thin_y = pool.reserves()
    thin = clear(crash_book, thin_x, thin_y, PRICE * WAD, CS, DS)
    assert thin.price != clear(crash_book, x, y, PRICE * WAD, CS, DS).price
    assert settle(auction, anyone).return_value == thin.price
    assert breaker.state(market) == NORMAL
    fund(deployer, pool, (collateral, x), (debt, y))
    assert pool.add_liquidity(x - thin_x, y - thin_y, 0, 2**64, sender=deployer).return_value > 0


@pytest.mark.threat
def test_settle__twice_in_one_transaction_after_a_deposit_reverts(
    auction, breaker, market, pool, phases, dlp, flash, fund, collateral, debt, anyone
):
    """The record a settle writes cannot be used in its own block. A deposit can reach AUCTION
    only while the pool's cached state is stale: a halt that lapsed by time, with nobody syncing,
    leaves the pool believing HALTED (deposits open) until the settle's own sync."""
    phases.halt()
    post(auction, dlp, False, wad(1_990), 5 * COL)
    lapse = breaker.params(market, breaker.P_MAX_HALT_S()) + breaker.params(market, breaker.P_COOLDOWN_S())
    advance(lapse)
    assert breaker.state(market) == AUCTION and pool.breaker_state() != AUCTION
    x, y = pool.reserves()
    fund(anyone, pool, (collateral, x), (debt, y))
    pool.add_liquidity(x, y, 0, 2**64, sender=anyone)
    with ape.reverts("ReopeningAuction: pool reserves recorded in this block"):
        flash.settle_twice(auction, auction.crossing(), sender=anyone)


def test_settle__empty_book_needs_no_record(auction, pool, phases, deployer, anyone):
    """Without orders the pool trades nothing, so its depth cannot matter: settles at once."""
    phases.cooldown()
    phases.auction()
    pool.remove_liquidity(pool.balanceOf(deployer) // 100, 0, 0, sender=deployer)
    expected = auction.preview().price
    assert abs(expected - PRICE * WAD) < PRICE * WAD // 10**9  # the withdrawal's rounding: dust
    assert settle(auction, anyone).return_value == expected


@pytest.mark.threat
def test_settle__deposit_held_from_the_halt_takes_the_imbalance_at_the_clearing_price(
    auction, pool, phases, dlp, bidder, seller, fund, collateral, debt, anyone
):
    """Deposits stay open while HALTED (a guarded pool resumes on returning depth), so liquidity
    added then and held through the reopening is part of the clearing. It can only pull the price
    toward the pool's own pre-halt spot, never past it, and it pays for that: the pool trades at
    the uniform clearing price, so the depositor buys its share of the book's imbalance at that
    price and leaves with collateral, not with a profit at the clearing price."""
    phases.halt()
    x, y = pool.reserves()
    fund(anyone, pool, (collateral, 9 * x), (debt, 9 * y))
    shares = pool.add_liquidity(9 * x, 9 * y, 0, 2**64, sender=anyone).return_value
    post(auction, dlp, False, wad(1_990), 5 * COL)
    phases.cooldown()
    post(auction, bidder, True, wad(2_010), 3 * COL)
    post(auction, seller, False, wad(1_950), 10 * COL)
    phases.auction()
    book = book_orders(auction)
    deep_x, deep_y = pool.reserves()
    honest = clear(book, x, y, PRICE * WAD, CS, DS)
    held = clear(book, deep_x, deep_y, PRICE * WAD, CS, DS)

    price = settle(auction, anyone).return_value

    assert price == held.price  # the held deposit counts in the clearing ...
    assert honest.price < price <= PRICE * WAD  # ... toward the pool's spot, never beyond it
    col_before, debt_before = collateral.balanceOf(anyone), debt.balanceOf(anyone)
    pool.remove_liquidity(shares, 0, 0, sender=anyone)
    col_out = collateral.balanceOf(anyone) - col_before
    debt_out = debt.balanceOf(anyone) - debt_before
    assert col_out > 9 * x  # it bought part of the sellers' collateral ...
    # ... at the clearing price: its value there is what it deposited, up to rounding dust.
    value_in = 9 * x * price // WAD + 9 * y * 10**12
    value_out = col_out * price // WAD + debt_out * 10**12
    assert abs(value_out - value_in) <= value_in // 10**9
