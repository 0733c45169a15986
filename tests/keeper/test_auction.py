"""The keeper and the reopening auction on anvil: it settles a round with orders as soon as the market is
in AUCTION, leaves markets without an auction (or with an empty book) to reopen by time, and never settles
a round twice."""

from __future__ import annotations

import io
import json
import logging

import pytest

from devchain import Crowd, deploy_pool_market, transact
from keeper import params as P
from keeper.cli import cmd_status
from keeper.model import Kind, State
from tests.unit.auction.model import Order, clear, settle_flows

COL, USD, WAD = 10**18, 10**6, 10**18
CS, DS = 1, 10**12  # collateral 18 decimals, debt 6
REASON_AUCTION_ELAPSED, REASON_AUCTION_SETTLED = 8, 10
COOLDOWN_S = P.BY_NAME["cooldown_s"].default
AUCTION_S = P.BY_NAME["auction_s"].default
# The restart's book: a DLP bids while halted, a panic seller and a second bidder come in the cool-down.
# The bids above 1.0 and the panic sell cross; the pool sells the rest, so the price is where the pool
# balances them (between the limits), not at a limit: liquidity added in AUCTION moves the crossing.
DLP_BID = Order(True, 1_050 * WAD // 1_000, 10_000 * COL)
PANIC_SELL = Order(False, 970 * WAD // 1_000, 8_000 * COL)
LOW_BID = Order(True, 990 * WAD // 1_000, 5_000 * COL)


def advance(anvil, seconds: int) -> None:
    anvil.rpc("evm_increaseTime", [seconds])
    anvil.mine()


@pytest.fixture
def dlp(system):
    return system.w3.eth.accounts[4]


@pytest.fixture
def traders(system):
    return system.w3.eth.accounts[5:7]


def make_pool_market(system, dlp, traders, with_auction=True):
    """A guarded pool market (venue and consumer) at 1.0; the traders and the DLP funded and approved."""
    market = deploy_pool_market(system, with_auction=with_auction, dlps=(dlp,) if with_auction else ())
    transact(
        system.w3,
        system.breaker.functions.grantRole(
            system.breaker.functions.GUARDIAN_ROLE().call(), system.governance
        ),
        system.governance,
    )
    if market.auction is not None:
        for who in (dlp, *traders):
            for token, amount in ((market.collateral, 100_000 * COL), (market.debt, 100_000 * USD)):
                transact(system.w3, token.functions.mint(who, amount), system.governance)
                transact(system.w3, token.functions.approve(market.auction.address, 2**256 - 1), who)
    return market


def halt_to_cooldown(system, market) -> None:
    """Guardian trip (HALTED), then governance's forced resume (COOLDOWN): the restart begins."""
    transact(system.w3, system.breaker.functions.guardian_trip(market.market_id), system.governance)
    transact(system.w3, system.breaker.functions.force_resume(market.market_id), system.governance)


def post(system, market, who, order: Order) -> None:
    transact(system.w3, market.auction.functions.post_order(order.is_buy, order.limit, order.amount), who)


def restart_with_book(system, anvil, market, dlp, traders) -> None:
    """HALTED: the DLP bids. COOLDOWN: a panic sell and a low bid. Then the cool-down elapses (AUCTION by
    time)."""
    transact(system.w3, system.breaker.functions.guardian_trip(market.market_id), system.governance)
    post(system, market, dlp, DLP_BID)
    transact(system.w3, system.breaker.functions.force_resume(market.market_id), system.governance)
    post(system, market, traders[0], PANIC_SELL)
    post(system, market, traders[1], LOW_BID)
    advance(anvil, COOLDOWN_S)


def stored_state(system, market) -> State:
    return State(system.breaker.functions.status(market.market_id).call()[0])


def state_of(system, market) -> State:
    return State(system.breaker.functions.state(market.market_id).call())


def pool_keeper(make_keeper, system, anvil, market, **overrides):
    return make_keeper(system, anvil.url, markets=[{"id": market.market_id, "name": "pool"}], **overrides)


def test_settle__keeper_settles_when_auction_is_reached(anvil, system, make_keeper, dlp, traders, caplog):
    market = make_pool_market(system, dlp, traders)
    keeper = pool_keeper(make_keeper, system, anvil, market)
    restart_with_book(system, anvil, market, dlp, traders)
    assert (state_of(system, market), stored_state(system, market)) == (State.AUCTION, State.COOLDOWN)
    x, y = market.pool.functions.reserves().call()
    reference = market.oracle.functions.latest().call()[0]
    expected = clear([DLP_BID, PANIC_SELL, LOW_BID], x, y, reference, CS, DS)
    flows = settle_flows([DLP_BID, PANIC_SELL, LOW_BID], expected, CS, DS)
    start = system.w3.eth.block_number

    report = keeper.cycle()
    [m] = report.markets
    assert m.chain.auction == market.auction.address and m.chain.auction_orders == 3
    assert m.action.kind == Kind.SETTLE_AUCTION and m.outcome.status == "sent"

    assert (state_of(system, market), stored_state(system, market)) == (State.NORMAL, State.NORMAL)
    [settled] = market.auction.events.AuctionSettled().get_logs(from_block=start + 1)
    assert (settled.args.actor, settled.args.price, settled.args.volume, settled.args.imbalance) == (
        system.keepers[0],
        expected.price,
        expected.volume,
        expected.imbalance,
    )
    assert (settled.args.bought, settled.args.sold, settled.args.pool_collateral_in, settled.args.orders) == (
        flows["bought"],
        flows["sold"],
        flows["pool_collateral_in"],
        3,
    )
    # between the limits, where the pool alone balances the crossing orders
    assert PANIC_SELL.limit < expected.price < DLP_BID.limit and expected.price > WAD
    advanced = system.breaker.events.StateAdvanced().get_logs(from_block=start + 1)
    assert [(e.args.actor, e.args.reason, e.args.old_state, e.args.new_state) for e in advanced] == [
        (market.auction.address, 7, State.COOLDOWN, State.AUCTION),  # `settle` stores the cool-down's end
        (market.auction.address, REASON_AUCTION_SETTLED, State.AUCTION, State.NORMAL),
    ]
    # the pool reopens at the clearing price, within the pool's tolerance (REOPEN_TOLERANCE_BPS)
    tolerance_bps = market.pool.functions.REOPEN_TOLERANCE_BPS().call()
    spot = market.pool.functions.spot_price().call()
    assert abs(spot - expected.price) * 10_000 <= expected.price * tolerance_bps
    assert market.pool.functions.band().call()[0] == expected.price  # band centred on the clearing price

    with caplog.at_level(logging.INFO, logger="keeper.runner"):
        report = keeper.cycle()  # reads the receipt: the settlement is reported
    assert report.markets[0].action is None  # NORMAL, calm, nothing left to do
    [s] = report.settlements
    assert (s.market_id, s.price, s.volume, s.orders) == (
        market.market_id,
        expected.price,
        expected.volume,
        3,
    )
    [line] = [r for r in caplog.records if r.getMessage() == "auction settled"]
    assert (line.price, line.volume, line.imbalance) == (
        expected.price / WAD,
        expected.volume,
        expected.imbalance,
    )
    labels = {"market": str(market.market_id)}
    assert keeper.metrics.value("keeper_auctions_settled_total", labels) == 1
    assert keeper.metrics.value("keeper_auction_clearing_price", labels) == expected.price / WAD
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "settle", "status": "success"})
        == 1
    )


@pytest.mark.parametrize("with_auction", [False, True], ids=["no-auction", "empty-book"])
def test_settle__not_without_orders_auction_elapses_by_time(
    anvil, system, make_keeper, dlp, traders, with_auction
):
    market = make_pool_market(system, dlp, traders, with_auction=with_auction)
    keeper = pool_keeper(make_keeper, system, anvil, market)
    halt_to_cooldown(system, market)
    advance(anvil, COOLDOWN_S)
    kinds = [m.action.kind for _ in range(3) for m in keeper.cycle().markets if m.action]
    assert kinds == [Kind.SYNC]  # stores AUCTION; nothing to settle
    assert stored_state(system, market) == State.AUCTION
    assert keeper.cycle().markets[0].chain.auction_orders == 0

    start = system.w3.eth.block_number
    advance(anvil, AUCTION_S)
    kinds = [m.action.kind for _ in range(3) for m in keeper.cycle().markets if m.action]
    assert kinds == [Kind.SYNC]
    [advanced] = system.breaker.events.StateAdvanced().get_logs(from_block=start + 1)
    assert (advanced.args.actor, advanced.args.reason, advanced.args.new_state) == (
        system.keepers[0],
        REASON_AUCTION_ELAPSED,
        State.NORMAL,
    )
    assert (
        keeper.metrics.value("keeper_decisions_total", {"market": str(market.market_id), "action": "settle"})
        == 0
    )


def test_settle__not_the_book_of_an_older_round(anvil, system, make_keeper, dlp, traders):
    market = make_pool_market(system, dlp, traders)
    # a first restart whose orders were never settled: its auction phase elapses, the orders are void
    restart_with_book(system, anvil, market, dlp, traders)
    advance(anvil, AUCTION_S)
    transact(system.w3, system.breaker.functions.sync(market.market_id), system.anyone)
    keeper = pool_keeper(make_keeper, system, anvil, market)
    halt_to_cooldown(system, market)  # a second restart: nobody posts
    advance(anvil, COOLDOWN_S)
    assert market.auction.functions.book_size().call() == 3  # the old round's book is still there ...
    m = keeper.cycle().markets[0]
    assert m.chain.auction_orders == 0  # ... but it is not this round's
    assert m.action.kind == Kind.SYNC
    assert market.auction.events.AuctionSettled().get_logs(from_block=0) == []


def test_settle__pending_settlement_by_someone_else_is_not_resent(anvil, system, make_keeper, dlp, traders):
    market = make_pool_market(system, dlp, traders)
    keeper = pool_keeper(make_keeper, system, anvil, market)
    restart_with_book(system, anvil, market, dlp, traders)
    anvil.set_automine(False)
    auction = market.auction.functions
    auction.settle(auction.crossing().call()).transact({"from": system.anyone, "gas": 3_000_000})

    m = keeper.cycle().markets[0]
    assert m.action.kind == Kind.SETTLE_AUCTION  # the latest block is still in AUCTION ...
    assert (m.outcome.status, m.outcome.detail) == ("reverted", "ReopeningAuction: market is not in auction")
    assert system.w3.eth.get_transaction_count(system.keepers[0], "pending") == 0  # ... but nothing was sent

    anvil.mine()
    assert state_of(system, market) == State.NORMAL
    [settled] = market.auction.events.AuctionSettled().get_logs(from_block=0)
    assert settled.args.actor == system.anyone
    report = keeper.cycle()
    assert report.markets[0].action is None and report.settlements == []


def test_settle__race_lost_lands_reverted_and_is_not_retried(anvil, system, make_keeper, dlp, traders):
    market = make_pool_market(system, dlp, traders)
    keeper = pool_keeper(make_keeper, system, anvil, market)
    restart_with_book(system, anvil, market, dlp, traders)
    anvil.set_automine(False)
    m = keeper.cycle().markets[0]
    assert (m.action.kind, m.outcome.status) == (Kind.SETTLE_AUCTION, "sent")
    # somebody else's settlement outbids the keeper's into the same block and lands first
    auction = market.auction.functions
    auction.settle(auction.crossing().call()).transact(
        {
            "from": system.anyone,
            "gas": 3_000_000,
            "maxPriorityFeePerGas": 100 * 10**9,
            "maxFeePerGas": 200 * 10**9,
        }
    )
    anvil.mine()
    [settled] = market.auction.events.AuctionSettled().get_logs(from_block=0)
    assert settled.args.actor == system.anyone

    report = keeper.cycle()  # reads the keeper's receipt: reverted, reported, not retried
    assert [(rec.kind, receipt["status"]) for rec, receipt in report.landed] == [("settle", 0)]
    assert report.settlements == [] and report.markets[0].action is None
    assert (
        keeper.metrics.value("keeper_transactions_landed_total", {"action": "settle", "status": "reverted"})
        == 1
    )
    assert keeper.metrics.value("keeper_auctions_settled_total", {"market": str(market.market_id)}) == 0
    assert state_of(system, market) == State.NORMAL and not keeper.executor.journal.items


def test_settle__stuck_settlement_replaced_with_a_fresh_crossing(anvil, system, make_keeper, dlp, traders):
    market = make_pool_market(system, dlp, traders)
    keeper = pool_keeper(make_keeper, system, anvil, market, fees={"replace_after_blocks": 1})
    restart_with_book(system, anvil, market, dlp, traders)
    gov, pool, auction = system.governance, market.pool.functions, market.auction.functions
    anvil.set_automine(False)
    anvil.rpc("evm_setBlockGasLimit", [hex(1_000_000)])
    crowd = Crowd(anvil, tip_median_gwei=5)

    m = keeper.cycle().markets[0]
    assert (m.action.kind, m.outcome.status) == (Kind.SETTLE_AUCTION, "sent")
    [rec] = keeper.executor.journal.items.values()
    assert (rec.kind, rec.to, rec.args) == ("settle", market.auction.address, [auction.crossing().call()])
    first_crossing = rec.args[0]
    # the crowd outbids the keeper for a block, and an LP withdraws half the pool: the crossing moves
    pool.remove_liquidity(pool.balanceOf(gov).call() // 2, 0, 0).transact(
        {"from": gov, "gas": 300_000, "maxPriorityFeePerGas": 100 * 10**9, "maxFeePerGas": 200 * 10**9}
    )
    crowd.send(60, system.w3.eth.get_block("latest").baseFeePerGas)
    anvil.mine()
    assert system.w3.eth.get_transaction(rec.hashes[0]).blockNumber is None
    assert auction.crossing().call() != first_crossing

    keeper.cycle()  # replaced: same nonce, higher fees, the crossing read again
    [rec] = keeper.executor.journal.items.values()
    assert rec.replacements == 1 and not rec.cancel
    assert rec.args == [auction.crossing().call()] and rec.args[0] != first_crossing

    anvil.rpc("evm_setBlockGasLimit", [hex(30_000_000)])
    x, y = pool.reserves().call()
    expected = clear([DLP_BID, PANIC_SELL, LOW_BID], x, y, market.oracle.functions.latest().call()[0], CS, DS)
    anvil.mine()
    # The replacement landed. The pool lost liquidity since the book closed, a withdrawal: the
    # settlement clears at once against the thinner pool, at the crossing the keeper read again.
    [s] = keeper.cycle().settlements
    assert system.w3.eth.get_transaction_receipt(rec.hashes[1]).status == 1
    assert (s.price, s.volume) == (expected.price, expected.volume)
    assert state_of(system, market) == State.NORMAL


def test_status__shows_the_auction_book_of_the_current_round(anvil, system, make_keeper, dlp, traders):
    market = make_pool_market(system, dlp, traders)
    keeper = pool_keeper(make_keeper, system, anvil, market)
    restart_with_book(system, anvil, market, dlp, traders)
    out = io.StringIO()
    assert cmd_status(keeper.settings, out, as_json=True) == 0
    [row] = json.loads(out.getvalue())["markets"]
    assert (row["state"], row["auction"], row["auction_orders"]) == ("AUCTION", market.auction.address, 3)

    table = io.StringIO()
    cmd_status(keeper.settings, table, as_json=False)
    header, values = table.getvalue().splitlines()[1:3]
    assert values.split()[header.split().index("auction_orders")] == "3"
