"""Gas of settling a reopening auction with 50 and 200 orders (`gas.auction.settle_50/_200`).

Setup as in production: a GuardedPool that is its own CircuitBreaker market (venue and consumer),
band on around a ReferenceOracle with one MockAggregator feed, and its ReopeningAuction wired to
the pool and the breaker (max_orders 200, 50 slots reserved for DLPs). Each sample is one real
round: the guardian trips, DLPs post a quarter of the book while HALTED, governance forces the
resume, the public posts the rest in COOLDOWN, the cool-down elapses, and `settle` runs (its
gasUsed, which includes storing the AUCTION transition, the pool trade and the reopening).

The book is a crash reopening around the reference price 2,000: sells from 1,900 to 2,020,
buys from 1,960 to 2,080, sizes 0.05-5 collateral, drawn from a seeded generator, so buys and
sells cross, some orders share a price level (pro-rata margin) and the pool absorbs the rest.
Every limit price is distinct but a few, which is the expensive case for the clearing (most
candidate prices). The settler passes the crossing that `crossing()` (an eth_call, as the
keeper would) returns. Each sample runs on a chain snapshot that is restored afterwards: anvil
keeps a step trace of every mined transaction in memory, and restoring lets it drop them.
Also reported: the median gas of posting one order and of claiming one (filled or not).
"""

from __future__ import annotations

import random
from statistics import median
from typing import Any

from ape import chain

from bench import MIN_SAMPLES
from deployment.auction import deploy_auction
from deployment.pool import deploy_pool

PRICE = 2_000
LIQUIDITY_COLLATERAL = 10_000
BOOK_SIZES = (50, 200)
WAD = 10**18
COL = 10**18
MAX_UINT = 2**256 - 1


def _book(n: int, seed: int) -> list[tuple[bool, int, int]]:
    """n orders (is_buy, limit price 18 decimals, amount raw) around PRICE."""
    rng = random.Random(seed)
    orders = []
    for i in range(n):
        is_buy = i % 2 == 0
        low, high = (1_960, 2_080) if is_buy else (1_900, 2_020)
        limit = rng.randint(low * 100, high * 100) * WAD // 100  # cents: mostly distinct levels
        amount = rng.randint(5, 500) * COL // 100
        orders.append((is_buy, limit, amount))
    return orders


def run(project: Any, accounts: Any) -> dict[str, float]:
    deployer, dlp, public = accounts[0], accounts[8], accounts[9]
    tx = {"sender": deployer}

    breaker = project.CircuitBreaker.deploy(**tx)
    breaker.grantRole(breaker.GUARDIAN_ROLE(), deployer.address, **tx)
    feed = project.MockAggregator.deploy(8, PRICE * 10**8, **tx)
    oracle = project.ReferenceOracle.deploy(1, **tx)
    oracle.add_feed(feed.address, 2 * 86_400, **tx)
    deployed = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        oracle,
        governance=deployer,
        liquidity_collateral=LIQUIDITY_COLLATERAL,
        price=PRICE,
    )
    pool, market = deployed.pool, deployed.market_id
    auction = deploy_auction(project, deployer, pool, breaker, governance=deployer, dlps=[dlp]).auction
    dlp_slots = auction.dlp_slots()
    cooldown_s = breaker.params(market, breaker.P_COOLDOWN_S())

    for actor in (dlp, public):
        deployed.collateral.mint(actor.address, 100_000 * COL, **tx)
        deployed.debt.mint(actor.address, 10**9 * 10**6, **tx)
        deployed.collateral.approve(auction.address, MAX_UINT, sender=actor)
        deployed.debt.approve(auction.address, MAX_UINT, sender=actor)

    post_gas: list[int] = []
    claim_gas: list[int] = []

    def settle_round(n: int, seed: int, claims: int = 0) -> int:
        """One round on a snapshot: trip, DLP posts, resume, public posts, settle; then up to
        `claims` claims of public orders; the chain is restored so anvil drops the blocks."""
        snapshot = chain.snapshot()
        book = _book(n, seed)
        dlp_part = min(dlp_slots, n // 4)
        breaker.guardian_trip(market, **tx)
        for is_buy, limit, amount in book[:dlp_part]:
            auction.post_order(is_buy, limit, amount, sender=dlp)
        breaker.force_resume(market, **tx)
        first_public = auction.order_count()
        for is_buy, limit, amount in book[dlp_part:]:
            post_gas.append(auction.post_order(is_buy, limit, amount, sender=public).gas_used)
        chain.pending_timestamp += cooldown_s
        chain.mine()
        crossing = auction.crossing()  # what the keeper computes off-chain (an eth_call)
        gas_used = auction.settle(crossing, **tx).gas_used
        for order_id in range(first_public, first_public + claims):
            claim_gas.append(auction.claim(order_id, sender=public).gas_used)
        chain.restore(snapshot)
        return gas_used

    figures: dict[str, float] = {}
    for n in BOOK_SIZES:
        used = [
            settle_round(n, seed=1_000 * n + i, claims=MIN_SAMPLES if i == 0 else 0)
            for i in range(MIN_SAMPLES)
        ]
        figures[f"gas.auction.settle_{n}"] = int(median(used))
    figures["gas.auction.settle_samples"] = MIN_SAMPLES
    figures["gas.auction.claim"] = int(median(claim_gas))
    figures["gas.auction.post_order"] = int(median(post_gas))
    return figures
