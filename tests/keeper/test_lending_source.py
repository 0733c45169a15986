"""Lending positions rebuilt from a LendingMarket's events (keeper/sources/lending.py), on anvil with the
real contracts: equal to the market's own views, restart from the persisted cursor, RPC errors, reorgs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import pytest
import requests
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from devchain import CALM_DEPTH, WAD, deploy, deploy_system, transact
from keeper import abi
from keeper import indicators as I
from keeper.chain import RpcPool
from keeper.config import ConfigError, MarketSettings, load_account
from keeper.metrics import Metrics
from keeper.runner import Keeper, default_sources
from keeper.sources.lending import EVENTS, LAYOUTS, LendingEventsSource, LendingMarketConfig
from tests.keeper.conftest import LoopbackServer, QuietHandler, with_batch_errors

USDC = 10**6
COLL = 10**18
MAX = 2**256 - 1
ZERO = "0x" + "00" * 20
PRICE_VENUE = 2
THRESHOLD_BPS = 8_000
# max_ltv, close factor, bonus, base rate, slope 1, slope 2, kink, halt multiplier, max grace, ramp min;
# interest on (4% / 75% a year) so that debts grow between events.
PARAMS = [7_000, 5_000, 500, 0, 4 * 10**16, 75 * 10**16, 8_000, 10_000, 3_600, 86_400]


@dataclass
class Lending:
    """A LendingMarket priced by a mock venue (no breaker attached), its tokens, and actors by role."""

    w3: Web3
    market: Contract
    usdc: Contract
    usde: Contract
    venue: Contract
    deployed_at: int
    governance: str
    lender: str
    borrowers: list[str]
    liquidator: str
    payer: str

    def send(self, fn: Any, sender: str) -> int:
        return int(transact(self.w3, fn, sender)["blockNumber"])

    def fund(self, actor: str, usdc: int = 0, coll: int = 0) -> None:
        for token, amount in ((self.usdc, usdc), (self.usde, coll)):
            if amount:
                self.send(token.functions.mint_for_testing(actor, amount), actor)
            self.send(token.functions.approve(self.market.address, MAX), actor)

    def open(self, who: str, coll: int, debt: int = 0, payer: str | None = None) -> None:
        payer = payer or who
        self.fund(payer, coll=coll)
        self.send(self.market.functions.deposit_collateral(who, coll), payer)
        if debt:
            self.send(self.market.functions.borrow(debt), who)

    def price(self, value: float) -> None:
        self.send(self.venue.functions.set_price(int(value * WAD)), self.governance)

    def travel(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def views(self, block: int) -> dict[str, tuple[int, int]]:
        """(collateral_of, debt_of) of every borrower with either, at `block`: what the source must match."""
        out = {}
        for b in {*self.borrowers, self.payer}:
            coll = self.market.functions.collateral_of(b).call(block_identifier=block)
            debt = self.market.functions.debt_of(b).call(block_identifier=block)
            if coll or debt:
                out[b] = (coll, debt)
        return out

    def borrower_logs(self, first: int, last: int) -> int:
        logs = self.w3.eth.get_logs(
            {"address": self.market.address, "fromBlock": first, "toBlock": last, "topics": [list(LAYOUTS)]}
        )
        return len(logs)


@pytest.fixture
def lending(anvil) -> Lending:
    w3 = anvil.w3
    accts = w3.eth.accounts
    gov = accts[0]
    usdc = deploy(w3, "MockLendingToken", "Mock USD Coin", "USDC", 6, sender=gov)
    usde = deploy(w3, "MockLendingToken", "Mock Ethena USDe", "USDe", 18, sender=gov)
    venue = deploy(w3, "MockVenue", WAD, CALM_DEPTH, sender=gov)
    market = deploy(
        w3,
        "LendingMarket",
        usdc.address,
        usde.address,
        PRICE_VENUE,
        venue.address,
        ZERO,
        0,
        THRESHOLD_BPS,
        PARAMS,
        sender=gov,
    )
    world = Lending(
        w3, market, usdc, usde, venue, w3.eth.block_number, gov, accts[1], accts[2:8], accts[8], accts[9]
    )
    world.fund(world.lender, usdc=1_000_000 * USDC)
    world.send(market.functions.supply(1_000_000 * USDC), world.lender)
    return world


def make_source(
    world: Lending,
    url: str,
    state_dir: Path | None,
    *,
    margin: int = 2,
    page: int = 2_000,
    max_pages: int = 50,
) -> LendingEventsSource:
    cfg = LendingMarketConfig(world.market.address, world.deployed_at, page, margin)
    return LendingEventsSource(
        RpcPool.from_urls([url], 5.0), {0: cfg}, state_dir=state_dir, chain_id=31337, max_pages=max_pages
    )


def assert_matches_views(world: Lending, source: LendingEventsSource) -> None:
    view = source.tracker(0).sync()
    want = world.views(view.block)
    got = view.by_borrower()
    assert set(got) == set(want)
    for b, (coll, debt) in want.items():
        assert got[b][0] == float(coll), b
        assert abs(got[b][1] - debt) <= 2, (b, got[b][1], debt)  # base units (1e-6 USDC)
    assert view.threshold_bps == THRESHOLD_BPS
    pos = view.positions()
    assert pos.collateral.sum() == pytest.approx(sum(c for c, _ in want.values()) / COLL, rel=1e-12)
    assert pos.debt.sum() == pytest.approx(sum(d for _, d in want.values()) / USDC, rel=1e-9)


def run_scenario(world: Lending, source: LendingEventsSource | None = None) -> None:
    """Deposits (one paid by a third party), borrows, interest, a partial repayment by a third party, a
    collateral withdrawal, a liquidation and a liquidation that realises bad debt; checks along the way."""
    a, b, c, d, e = world.borrowers[:5]
    world.open(a, 10_000 * COLL, 5_000 * USDC)
    world.open(b, 10_000 * COLL, 6_000 * USDC)
    world.open(c, 10_000 * COLL, 6_900 * USDC)
    world.open(d, 2_000 * COLL, payer=world.payer)  # collateral only, paid by someone else
    world.open(e, 5_000 * COLL, 3_400 * USDC)
    if source:
        assert_matches_views(world, source)
    world.travel(30 * 86_400)
    world.fund(world.payer, usdc=2_000 * USDC)
    world.send(world.market.functions.repay(a, 1_000 * USDC), world.payer)
    world.send(world.market.functions.withdraw_collateral(500 * COLL), b)
    world.travel(3 * 86_400)
    if source:
        assert_matches_views(world, source)
    world.price(0.85)
    world.fund(world.liquidator, usdc=100_000 * USDC)
    world.send(world.market.functions.liquidate(c, MAX), world.liquidator)
    world.travel(86_400)
    world.price(0.30)
    receipt = transact(world.w3, world.market.functions.liquidate(e, MAX), world.liquidator)
    # the whole collateral went, the rest of the debt is written off
    assert world.market.events.BadDebtRealized().process_receipt(receipt, errors=DISCARD)
    assert world.market.functions.collateral_of(e).call() == 0
    world.travel(7 * 86_400)


# ---------------------------------------------------------------- equal to the market's views


def test_positions__equal_the_markets_views_through_deposits_borrows_repays_liquidations(
    lending, anvil, tmp_path
):
    source = make_source(lending, anvil.url, tmp_path)
    run_scenario(lending, source)
    assert_matches_views(lending, source)
    tracker = source.tracker(0)
    assert (
        lending.borrowers[4] not in tracker.sync().by_borrower()
    )  # bad debt written off, no collateral: gone
    obs = source.collect([0, 1], 0.0)
    assert list(obs) == [0] and not obs[0].errors
    assert obs[0].positions.debt.sum() == pytest.approx(
        sum(d for _, d in lending.views(tracker.last.head).values()) / USDC, rel=1e-9
    )


def test_positions__a_fresh_source_rebuilds_everything_from_from_block(lending, anvil, tmp_path):
    run_scenario(lending)
    source = make_source(lending, anvil.url, tmp_path, page=7)
    assert_matches_views(lending, source)
    report = source.tracker(0).last
    head = report.head
    assert report.first_block == lending.deployed_at
    assert report.confirmed_logs + report.tail_logs == lending.borrower_logs(lending.deployed_at, head)
    assert report.pages == -(-(head - lending.deployed_at + 1) // 7)


def test_events_spec__matches_the_compiled_abi():
    compiled = {
        e["name"]: [(i["name"], i["type"], i["indexed"]) for i in e["inputs"]]
        for e in abi.load_abi("LendingMarket")
        if e["type"] == "event"
    }
    for name, fields in EVENTS.items():
        assert compiled[name] == fields, name
    assert {layout.name for layout in LAYOUTS.values()} == set(EVENTS)


# ---------------------------------------------------------------- restarts: persisted cursor, no double
# counting


def test_restart__backfills_exactly_the_missed_events_from_the_persisted_cursor(lending, anvil, tmp_path):
    a, b = lending.borrowers[:2]
    lending.open(a, 10_000 * COLL, 5_000 * USDC)
    first = make_source(lending, anvil.url, tmp_path)
    assert_matches_views(lending, first)
    state = next(tmp_path.glob("lending-31337-*.json"))
    cursor = json.loads(state.read_text())["cursor"]
    assert cursor == first.tracker(0).last.head - 2  # the reorg margin stays unconfirmed

    del first  # the keeper dies; the chain goes on
    lending.open(b, 8_000 * COLL, 4_000 * USDC)
    lending.travel(10 * 86_400)
    lending.fund(a, usdc=1_000 * USDC)
    lending.send(lending.market.functions.repay(a, 700 * USDC), a)
    lending.send(lending.market.functions.withdraw_collateral(1_000 * COLL), b)

    with FaultyProxy(anvil.url) as proxy:
        second = make_source(lending, proxy.url, tmp_path)
        assert second.tracker(0).cursor == cursor  # from the file, not from from_block
        assert_matches_views(lending, second)
        report = second.tracker(0).last
        gets = [p[0] for m, p in proxy.calls if m == "eth_getLogs"]
    assert int(gets[0]["fromBlock"], 16) == cursor + 1
    assert report.first_block == cursor + 1
    safe = report.head - 2
    assert report.confirmed_logs == lending.borrower_logs(cursor + 1, safe)  # each missed event once
    assert report.tail_logs == lending.borrower_logs(safe + 1, report.head)
    assert json.loads(state.read_text())["cursor"] == safe


def test_restart__killed_mid_backfill_continues_where_it_stopped(lending, anvil, tmp_path):
    run_scenario(lending)
    head = lending.w3.eth.block_number
    confirmed = 0
    cursors = []
    for _ in range(200):  # one page of 4 blocks per life, then the process dies
        source = make_source(lending, anvil.url, tmp_path, page=4, max_pages=1)
        obs = source.collect([0], 0.0)[0]
        tracker = source.tracker(0)
        confirmed += tracker.last.confirmed_logs
        cursors.append(tracker.cursor)
        if obs.positions is not None:
            break
        assert obs.errors and "backfilling" in obs.errors[0]
    else:
        pytest.fail("never caught up")
    assert cursors == sorted(set(cursors)) and len(cursors) > 5
    assert confirmed == lending.borrower_logs(
        lending.deployed_at, tracker.cursor
    )  # no event twice, none missed
    assert tracker.last.head == head
    assert_matches_views(lending, source)


def test_restart__state_of_another_market_or_from_block_is_not_used(lending, anvil, tmp_path):
    lending.open(lending.borrowers[0], 1_000 * COLL, 500 * USDC)
    assert_matches_views(lending, make_source(lending, anvil.url, tmp_path))
    state = next(tmp_path.glob("lending-31337-*.json"))
    raw = json.loads(state.read_text())
    state.write_text(json.dumps({**raw, "from_block": raw["from_block"] + 1}))
    again = make_source(lending, anvil.url, tmp_path)
    assert again.tracker(0).cursor == lending.deployed_at - 1 and not again.tracker(0).confirmed
    state.write_text("{not json")
    assert make_source(lending, anvil.url, tmp_path).tracker(0).cursor == lending.deployed_at - 1


# ---------------------------------------------------------------- RPC errors


class FaultyProxy(LoopbackServer):
    """A loopback JSON-RPC forwarder that records calls and fails the ones `fail(method, params)` picks:
    "http" answers 503 (a transport failure), a dict is returned as the JSON-RPC error."""

    def __init__(self, target: str) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail: Any = lambda method, params: None
        session = requests.Session()
        proxy = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = json.loads(body)
                reqs = req if isinstance(req, list) else [req]
                verdicts = [proxy.fail(r.get("method"), r.get("params")) for r in reqs]
                proxy.calls += [(r.get("method"), r.get("params")) for r in reqs]
                if "http" in verdicts:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(verdicts[0], dict) and not isinstance(req, list):
                    content = json.dumps(
                        {"jsonrpc": "2.0", "id": req.get("id"), "error": verdicts[0]}
                    ).encode()
                else:
                    content = session.post(
                        target, data=body, headers={"Content-Type": "application/json"}, timeout=10
                    ).content
                    if isinstance(req, list) and any(isinstance(v, dict) for v in verdicts):
                        content = with_batch_errors(content, reqs, verdicts)
                self.reply(200, content)

        super().__init__(Handler)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.mark.parametrize("failing", ["eth_getLogs", "borrow_index"])
@pytest.mark.fault
def test_rpc_error_mid_fetch__leaves_cursor_and_positions_unchanged(lending, anvil, tmp_path, failing):
    a, b = lending.borrowers[:2]
    lending.open(a, 10_000 * COLL, 5_000 * USDC)
    with FaultyProxy(anvil.url) as proxy:
        source = make_source(lending, proxy.url, tmp_path, margin=0)
        assert_matches_views(lending, source)
        tracker = source.tracker(0)
        state = next(tmp_path.glob("lending-31337-*.json"))
        before = (tracker.cursor, {k: v.as_list() for k, v in tracker.confirmed.items()}, state.read_text())

        lending.travel(86_400)
        lending.open(b, 8_000 * COLL, 4_000 * USDC)
        lending.send(lending.market.functions.borrow(100 * USDC), a)
        anvil.mine()  # the new events lie strictly below the head
        head = lending.w3.eth.block_number
        selector = "0x" + Web3.keccak(text="borrow_index()")[:4].hex().removeprefix("0x")

        def fail(method: str, params: Any) -> str | None:
            if failing == "eth_getLogs" and method == "eth_getLogs":
                return "http"
            if (
                failing == "borrow_index"
                and method == "eth_call"
                and params[0]["data"] == selector
                and params[1] != "latest"
                and before[0] < int(params[1], 16) < head
            ):
                return "http"  # the index at a block with a new borrow: after eth_getLogs answered
            return None

        mark = len(proxy.calls)
        proxy.fail = fail
        obs = source.collect([0], 0.0)[0]
        assert obs.positions is None and "RpcUnavailable" in obs.errors[0]
        assert "eth_getLogs" in [m for m, _ in proxy.calls[mark:]]
        after = (tracker.cursor, {k: v.as_list() for k, v in tracker.confirmed.items()}, state.read_text())
        assert after == before

        proxy.fail = lambda method, params: None
        assert_matches_views(lending, source)
        assert tracker.cursor == tracker.last.head


@pytest.mark.fault
def test_pruned_node__old_borrow_index_falls_back_to_the_heads(lending, anvil, tmp_path):
    """A node without old state answers borrow_index() at recent blocks only: a debt last touched before
    grows from the head's stored index, missing the interest in between (documented), never more."""
    a, b = lending.borrowers[:2]
    lending.open(a, 10_000 * COLL, 5_000 * USDC)
    old = lending.w3.eth.block_number
    debt_at_event = lending.market.functions.debt_of(a).call(block_identifier=old)
    lending.travel(60 * 86_400)
    lending.open(b, 10_000 * COLL, 5_000 * USDC)
    anvil.mine()
    selector = "0x" + Web3.keccak(text="borrow_index()")[:4].hex().removeprefix("0x")
    with FaultyProxy(anvil.url) as proxy:
        proxy.fail = lambda method, params: (
            {"code": -32000, "message": "missing trie node"}
            if method == "eth_call"
            and params[0]["data"] == selector
            and params[1] != "latest"
            and int(params[1], 16) <= old
            else None
        )
        source = make_source(lending, proxy.url, tmp_path)
        view = source.tracker(0).sync()
    assert source.tracker(0).last.pruned_indices == 1
    want = lending.views(view.block)
    got = view.by_borrower()
    assert abs(got[b][1] - want[b][1]) <= 2  # read at a block the node still has: exact
    # a's debt grows only from the head's last accrual (b's borrow): the 60 days before it are missed
    assert got[a][1] == pytest.approx(debt_at_event, abs=2) and want[a][1] - got[a][1] > 1_000


@pytest.mark.fault
def test_logs_range_refused__halved_until_the_node_answers(lending, anvil, tmp_path):
    run_scenario(lending)
    with FaultyProxy(anvil.url) as proxy:

        def fail(method: str, params: Any) -> dict | None:
            if method == "eth_getLogs":
                span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
                if span > 10:
                    return {"code": -32602, "message": "query exceeds max block range 10"}
            return None

        proxy.fail = fail
        source = make_source(lending, proxy.url, tmp_path, page=1_000)
        assert_matches_views(lending, source)
        spans = [
            int(p[0]["toBlock"], 16) - int(p[0]["fromBlock"], 16) + 1
            for m, p in proxy.calls
            if m == "eth_getLogs"
        ]
    assert spans[0] > 10 and spans[-1] <= 10  # refused, halved, answered: the views above match
    assert source.tracker(0)._page <= 10


# ---------------------------------------------------------------- reorgs


@pytest.mark.fault
def test_reorg_inside_the_margin__reverted_events_disappear(lending, anvil, tmp_path):
    a, b = lending.borrowers[:2]
    lending.open(a, 10_000 * COLL, 5_000 * USDC)
    source = make_source(lending, anvil.url, tmp_path, margin=6)
    assert_matches_views(lending, source)
    snapshot = anvil.rpc("evm_snapshot")
    lending.open(b, 8_000 * COLL, 4_000 * USDC)  # 5 blocks: mint, 2 approvals, deposit, borrow
    assert b in source.tracker(0).sync().by_borrower()
    cursor = source.tracker(0).cursor
    assert b not in source.tracker(0).confirmed  # still inside the margin
    anvil.rpc("evm_revert", [snapshot])
    anvil.mine(7)  # the other branch is longer
    view = source.tracker(0).sync()
    assert b not in view.by_borrower()
    assert source.tracker(0).last.first_block == cursor + 1  # no rebuild: the margin absorbed it
    assert_matches_views(lending, source)


@pytest.mark.fault
def test_reorg_deeper_than_the_margin__detected_and_rebuilt(lending, anvil, tmp_path):
    a, b = lending.borrowers[:2]
    lending.open(a, 10_000 * COLL, 5_000 * USDC)
    snapshot = anvil.rpc("evm_snapshot")
    lending.open(b, 8_000 * COLL, 4_000 * USDC)
    source = make_source(lending, anvil.url, tmp_path, margin=0)
    assert b in source.tracker(0).sync().by_borrower()
    assert b in source.tracker(0).confirmed
    anvil.rpc("evm_revert", [snapshot])
    anvil.mine(8)
    view = source.tracker(0).sync()
    assert b not in view.by_borrower() and view.by_borrower()[a][0] == 10_000 * COLL
    assert source.tracker(0).last.first_block == lending.deployed_at
    assert_matches_views(lending, source)


# ---------------------------------------------------------------- configuration and wiring


def test_config__lending_market_validated():
    m = MarketSettings(id=0, name="x", lce={"lending_market": "0x" + "ab" * 20, "from_block": 12})
    assert m.lce.lending_market == Web3.to_checksum_address("0x" + "ab" * 20) and m.lce.from_block == 12
    for bad, match in (
        ({"lending_market": "0x1234"}, "20-byte address"),
        ({"lending_market": "0x" + "ab" * 20, "positions_file": "p.csv"}, "not both"),
        ({"lending_market": "0x" + "ab" * 20, "from_block": -1}, "greater than or equal"),
        ({"reorg_margin_blocks": -1}, "greater than or equal"),
        ({"log_page_blocks": 0}, "greater than or equal"),
    ):
        with pytest.raises(ValueError, match=match):
            MarketSettings(id=0, name="x", lce=bad)


def test_config__error_names_the_field(make_settings, anvil):
    system = deploy_system(anvil.w3)
    with pytest.raises(ConfigError, match=r"markets\.0\.lce\.lending_market: expected a 0x-prefixed"):
        make_settings(system, anvil.url, markets=[{"id": 0, "name": "m", "lce": {"lending_market": "nope"}}])


def test_keeper__default_sources_feed_lce_from_the_lending_markets_events(lending, anvil, make_settings):
    system = deploy_system(anvil.w3)
    debts = [6_500, 6_500, 6_000]  # a 20% fall at an 80% threshold liquidates debt above 10,000 x 0.8 x 0.8
    for who, debt in zip(lending.borrowers, debts, strict=False):
        lending.open(who, 10_000 * COLL, debt * USDC)
    settings = make_settings(
        system,
        anvil.url,
        markets=[
            {
                "id": 0,
                "name": "usde",
                "lce": {
                    "lending_market": lending.market.address,
                    "from_block": lending.deployed_at,
                    "move_bps": 2_000,
                },
            }
        ],
    )
    assert not default_sources(settings, Metrics())  # no RPC pool, no lending source
    keeper = Keeper(settings, account=load_account(settings), metrics=Metrics())
    assert [s.name for s in keeper.sources] == ["lending"]

    def check(at_risk_collateral: float) -> None:
        report = keeper.cycle()
        m = report.markets[0]
        spot = m.chain.indicators.spot / WAD
        assert not m.keeper.rejected and m.action is None
        assert m.keeper.at_risk_usd == pytest.approx(at_risk_collateral * spot)
        assert m.keeper.lce_bps == pytest.approx(m.keeper.at_risk_usd / (m.chain.venue_depth / WAD) * 10_000)

    check(20_000.0)
    lending.travel(86_400)
    lending.open(lending.borrowers[3], 10_000 * COLL, 6_450 * USDC)
    check(30_000.0)
    assert (settings.state_dir / f"lending-31337-{lending.market.address.lower()}.json").is_file()
    positions = keeper.sources[0].collect([0], 0.0)[0].positions
    assert isinstance(positions, I.Positions) and len(positions.debt) == 4
    assert positions.liquidation_threshold_bps.tolist() == [THRESHOLD_BPS] * 4
