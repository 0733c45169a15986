"""Gas of a liquidation on LendingMarket with and without the breaker attached.

Two markets of the same code on the same tokens and reference oracle: one attached to a
CircuitBreaker market as a consumer (back in NORMAL after a halt and its grace period), one with
breaker = empty(address). Each gets the same lender, the same positions, a day of interest and
the same 15% price drop; each figure is the median gasUsed of seven whole `liquidate`
transactions (>= MIN_SAMPLES), one per position.
"""

from __future__ import annotations

from ape import chain

from bench import MIN_SAMPLES, median_gas
from keeper import params as P

WAD = 10**18
USDC = 10**6
COLL = 10**18
DEPTH = 8_000_000 * WAD
DAY = 86_400
ZERO_ADDRESS = "0x" + "00" * 20
# LendingMarket parameter array (P_* keys): max LTV, close factor, bonus, base rate, slope 1,
# slope 2, kink, halt rate multiplier, max grace, ramp minimum.
MARKET_PARAMS = [7_000, 5_000, 500, 0, 4 * 10**16, 75 * 10**16, 8_000, 20_000, 3_600, DAY]
THRESHOLD_BPS = 8_000
PRICE_ORACLE = 1


def _deploy(project, accounts):
    deployer = accounts[0]
    usdc = project.MockLendingToken.deploy("Mock USD Coin", "USDC", 6, sender=deployer)
    usde = project.MockLendingToken.deploy("Mock Ethena USDe", "USDe", 18, sender=deployer)
    venue = project.MockVenue.deploy(WAD, DEPTH, sender=deployer)
    feed = project.MockAggregator.deploy(8, 10**8, sender=deployer)
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    oracle.add_feed(feed, DAY, sender=deployer)
    breaker = project.CircuitBreaker.deploy(sender=deployer)
    breaker.register_market(venue, oracle, P.as_array(P.resolve()), sender=deployer)
    markets = {}
    for name, attached in (("guarded", breaker.address), ("unguarded", ZERO_ADDRESS)):
        markets[name] = project.LendingMarket.deploy(
            usdc, usde, PRICE_ORACLE, oracle, attached, 0, THRESHOLD_BPS, MARKET_PARAMS, sender=deployer
        )
    breaker.add_consumer(0, markets["guarded"], sender=deployer)
    return usdc, usde, feed, breaker, markets


def _positions(market, usdc, usde, lender, borrowers):
    usdc.mint_for_testing(lender, 1_000_000 * USDC, sender=lender)
    usdc.approve(market, 2**256 - 1, sender=lender)
    market.supply(1_000_000 * USDC, sender=lender)
    for borrower in borrowers:
        usde.mint_for_testing(borrower, 10_000 * COLL, sender=borrower)
        usde.approve(market, 2**256 - 1, sender=borrower)
        market.deposit_collateral(borrower, 10_000 * COLL, sender=borrower)
        market.borrow(6_900 * USDC, sender=borrower)


def run(project, accounts) -> dict[str, float]:
    deployer, lender, liquidator = accounts[0], accounts[5], accounts[7]
    borrowers = [accounts[i] for i in (1, 2, 3, 4, 6, 8, 9)]  # one liquidation each
    assert len(borrowers) >= MIN_SAMPLES
    usdc, usde, feed, breaker, markets = _deploy(project, accounts)
    for market in markets.values():
        _positions(market, usdc, usde, lender, borrowers)
        usdc.approve(market, 2**256 - 1, sender=liquidator)
    usdc.mint_for_testing(liquidator, 10_000_000 * USDC, sender=liquidator)

    # The guarded market goes through a halt (10 minutes, then cool-down and auction) and its
    # grace period, so its cached breaker word holds a real history; both markets accrue a day.
    breaker.grantRole(breaker.GUARDIAN_ROLE(), deployer, sender=deployer)
    breaker.guardian_trip(0, sender=deployer)
    chain.pending_timestamp += 600
    breaker.force_resume(0, sender=deployer)
    chain.pending_timestamp += breaker.params(0, P.BY_NAME["cooldown_s"].key) + breaker.params(
        0, P.BY_NAME["auction_s"].key
    )
    breaker.sync(0, sender=deployer)
    assert markets["guarded"].breaker_state() == 1  # NORMAL
    chain.pending_timestamp += DAY  # past the grace period; then the price falls 15%
    feed.set_answer(85 * 10**6, sender=deployer)

    def liquidate(market):
        def send(i: int):
            receipt = market.liquidate(borrowers[i], 2**256 - 1, sender=liquidator)
            assert receipt.return_value[0] > 0
            return receipt

        return send

    guarded = median_gas(liquidate(markets["guarded"]), len(borrowers))
    unguarded = median_gas(liquidate(markets["unguarded"]), len(borrowers))
    return {
        "gas.lending.liquidate_guarded": guarded,
        "gas.lending.liquidate_unguarded": unguarded,
        "gas.lending.guarded_over_unguarded": round(guarded / unguarded, 4),
    }
