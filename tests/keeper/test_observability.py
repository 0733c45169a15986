"""Failures are visible: send outcomes, relay errors, gas, balance, head lag and stuck transactions in the
metrics and /health; alert rules and the dashboard name only real metrics; webhooks fire."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from devchain import Crowd
from keeper import dashboard
from keeper.metrics import MetricsServer
from keeper.model import State
from tests.keeper.conftest import LoopbackServer, QuietHandler

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "ops" / "prometheus" / "keeper-alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "keeper-dashboard.json"
PROMQL_BUILTINS = {"up"}  # series Prometheus itself writes for every scrape target


def state_of(system, market=0) -> State:
    return State(system.breaker.functions.state(market).call())


# ---------------------------------------------------------------- alert rules and dashboard


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_alert_rules__every_expression_names_real_metrics():
    known = dashboard.metric_names() | PROMQL_BUILTINS
    rules = alert_rules()
    assert len(rules) >= 15
    for rule in rules:
        names = dashboard.names_in(rule["expr"]) | ({"up"} if rule["expr"].startswith("up{") else set())
        assert names, rule["alert"]
        assert names <= known, f"{rule['alert']}: {sorted(names - known)} are not keeper metrics"


def test_alert_rules__each_has_a_runbook_entry():
    runbook = (ROOT / "docs" / "keeper.md").read_text()
    missing = [r["alert"] for r in alert_rules() if f"`{r['alert']}`" not in runbook]
    assert not missing, f"docs/keeper.md runbook lacks {missing}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian: prometheus)")
def test_alert_rules__promtool_check_rules():
    out = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in out.stdout


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian: prometheus)")
def test_alert_rules__fire_on_keeper_series_promtool_test_rules():
    """ops/prometheus/keeper-alerts.test.yml feeds series named as the keeper exports them and expects the
    balance, stuck-transaction, send-failure and unhealthy alerts to fire (and not before their time)."""
    out = subprocess.run(
        ["promtool", "test", "rules", "keeper-alerts.test.yml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr


def test_dashboard__committed_json_is_a_fresh_build():
    assert DASHBOARD.read_text() == dashboard.render(), "run: python -m keeper.dashboard > " + str(
        DASHBOARD.relative_to(ROOT)
    )


def test_dashboard__every_metric_family_has_a_panel_and_every_query_a_metric():
    built = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in built["panels"] for t in p.get("targets", [])]
    used = set().union(*(dashboard.names_in(q) for q in queries))
    known = dashboard.metric_names()
    assert used <= known
    families = {
        n.removesuffix("_total").removesuffix("_bucket")
        for n in known
        if not n.endswith(("_created", "_sum", "_count"))
    }
    shown = {n.removesuffix("_total").removesuffix("_bucket") for n in used}
    assert families <= shown, f"no panel for {sorted(families - shown)}"


def test_dashboard__unknown_metric_refused(monkeypatch):
    monkeypatch.setattr(dashboard, "PANELS", [("Row", "typo", "short", ["keeper_sendz_total"])])
    with pytest.raises(ValueError, match="keeper_sendz_total"):
        dashboard.build()


# ---------------------------------------------------------------- counters and gauges


def test_metrics__failed_send_counted_by_outcome_and_health_fails_on_low_balance(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, low_balance_eth="0.5")
    me = system.keepers[0]
    anvil.rpc("anvil_setBalance", [me, hex(10**13)])  # 0.00001 ETH: below the threshold, too little for gas
    system.crash(0)
    outcome = keeper.cycle().markets[0].outcome
    assert outcome.status == "failed"
    assert (
        keeper.metrics.value("keeper_sends_total", {"action": "arm_trip", "outcome": "insufficient_funds"})
        == 1
    )
    assert keeper.metrics.value("keeper_balance_eth") == pytest.approx(0.00001)
    assert keeper.metrics.value("keeper_balance_low") == 1
    ok, info = keeper.health()
    assert (
        not ok
        and info["problems"] == ["balance below 0.5 ETH"]
        and info["balance_eth"] == pytest.approx(0.00001)
    )

    anvil.rpc("anvil_setBalance", [me, hex(10**18)])
    for _ in range(3):
        keeper.cycle()
    assert state_of(system) == State.HALTED
    ok, info = keeper.health()
    assert ok and info["problems"] == [] and info["last_send_age_s"] is not None
    assert keeper.metrics.value("keeper_sends_total", {"action": "trip", "outcome": "sent"}) == 1
    assert keeper.metrics.value("keeper_gas_spent_eth_total", {"action": "trip"}) > 0
    assert keeper.metrics.value("keeper_last_successful_send_timestamp") > 0


def test_metrics__relay_errors_counted(anvil, system, make_keeper, rpc_proxy):
    relay = rpc_proxy(anvil.url)
    relay.kill()
    keeper = make_keeper(system, anvil.url, private_relay_url=relay.url)
    system.crash(0)
    assert keeper.cycle().markets[0].outcome.status == "failed"
    assert keeper.metrics.value("keeper_relay_errors_total", {"kind": "transport"}) == 1
    assert keeper.metrics.value("keeper_sends_total", {"action": "arm_trip", "outcome": "unconfirmed"}) == 1


def test_health__stuck_transaction_fails_it_and_served_as_503(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url, health_max_stuck_blocks=3, fees={"replace_after_blocks": 50})
    system.crash(0)
    anvil.set_automine(False)
    anvil.rpc("evm_setBlockGasLimit", [hex(1_000_000)])
    crowd = Crowd(anvil, tip_median_gwei=5)
    keeper.cycle()  # the arm, priced from a calm history, now outbid block after block
    for _ in range(5):
        crowd.send(60, anvil.w3.eth.get_block("latest").baseFeePerGas)
        anvil.mine()
        keeper.cycle()
    assert keeper.executor.journal.items and keeper.metrics.value("keeper_oldest_in_flight_blocks") >= 4
    server = MetricsServer(keeper.metrics, keeper.health, "127.0.0.1", 0).start()
    try:
        resp = requests.get(f"http://127.0.0.1:{server.port}/health", timeout=5)
    finally:
        server.stop()
    assert resp.status_code == 503
    body = resp.json()
    assert body["ok"] is False and body["stuck_blocks"] >= 4
    assert any(p.startswith("a transaction is in flight for") for p in body["problems"])
    assert keeper.metrics.value("keeper_healthy") == 0


# ---------------------------------------------------------------- webhook


class Hook(LoopbackServer):
    """A local webhook receiver that records each JSON body."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.got = threading.Condition()
        hook = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with hook.got:
                    hook.events.append(body)
                    hook.got.notify_all()
                self.send_response(204)
                self.end_headers()

        super().__init__(Handler)
        self.url += "/hook/SECRET-TOKEN"


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def test_webhook__trip_sent_trip_landed_and_unhealthy(anvil, system, make_keeper, hook, caplog):
    keeper = make_keeper(system, anvil.url, webhook_url=hook.url)
    system.crash(0)
    anvil.set_automine(False)
    keeper.cycle()  # arm sent
    anvil.mine()
    keeper.cycle()  # arm landed, trip sent
    anvil.mine()
    keeper.cycle()  # trip landed
    assert keeper.watch_health()
    anvil.rpc("anvil_setBalance", [system.keepers[0], "0x0"])
    keeper.cycle()
    assert not keeper.watch_health()
    assert keeper.notifier.flush(10)
    events = [e["event"] for e in hook.events]
    assert events == ["trip_sent", "trip_landed", "keeper_unhealthy"]
    sent, landed, unhealthy = hook.events
    assert sent["action"] == "trip" and sent["market"] == 0 and sent["keeper"] == system.keepers[0]
    assert sent["chain_id"] == 31337 and sent["tx"].startswith("0x")
    assert landed["block"] == anvil.w3.eth.block_number and landed["blocks_waited"] == 1
    assert unhealthy["problems"] == ["balance below 0.05 ETH"]
    assert keeper.metrics.value("keeper_webhooks_total", {"event": "trip_landed"}) == 1
    assert "SECRET-TOKEN" not in caplog.text and "SECRET-TOKEN" not in repr(keeper.settings)


def test_webhook__dead_endpoint_counted_never_blocks(anvil, system, make_keeper, hook):
    url = hook.url
    hook.close()
    keeper = make_keeper(system, anvil.url, webhook_url=url, webhook_timeout_s=1)
    system.crash(0)
    for _ in range(2):
        keeper.cycle()
    assert state_of(system) == State.HALTED
    assert keeper.notifier.flush(10)
    assert keeper.metrics.value("keeper_webhook_errors_total", {"kind": "transport"}) == 1
