"""Operations: CLI (`check`, `status`, `run`), metrics and health endpoint, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import urllib.error
import urllib.request

import pytest
import yaml

from devchain import dev_key
from keeper.cli import main
from keeper.logs import JsonFormatter
from keeper.metrics import MetricsServer
from keeper.model import State


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith("KEEPER_"):
            monkeypatch.delenv(k)

    def config_file(system, url, **extra):
        doc = {
            "breaker": system.breaker.address,
            "rpc_urls": [url],
            "metrics_port": 0,
            "markets": [{"id": 0, "name": "usde"}],
            "state_dir": str(tmp_path / "state"),
            "poll_interval_s": 0.05,
            "idle_cycle_s": 0.1,
        }
        doc.update(extra)
        path = tmp_path / "keeper.yaml"
        path.write_text(yaml.safe_dump(doc))
        monkeypatch.setenv("KEEPER_PRIVATE_KEY", dev_key(1))
        return str(path)

    return config_file


def test_cli_check__reports_each_item(anvil, system, config_file):
    out = io.StringIO()
    assert main(["--config", config_file(system, anvil.url, chain_id=31337), "check"], out=out) == 0
    text = out.getvalue()
    for line in (
        "ok    key: address " + system.keepers[0],
        "ok    rpc0 http://127.0.0.1:",
        "ok    breaker",
        "ok    market 0 usde: registered",
        "ok    keeper role: held",
        "ok    balance",
    ):
        assert line in text
    assert dev_key(1)[2:] not in text


def test_cli_check__wrong_chain_and_missing_market_fail(anvil, system, config_file):
    out = io.StringIO()
    path = config_file(
        system, anvil.url, chain_id=1, markets=[{"id": 0, "name": "a"}, {"id": 5, "name": "b"}]
    )
    assert main(["--config", path, "check"], out=out) == 1
    assert "(config says chain_id 1)" in out.getvalue()
    assert "FAIL  market 5 b: not registered (the breaker has 1 markets)" in out.getvalue()


def test_cli__bad_config_exits_2_naming_the_field(anvil, system, config_file, capsys):
    path = config_file(system, anvil.url, fees={"max_fee_gwei": -1})
    assert main(["--config", path, "status"]) == 2
    assert "fees.max_fee_gwei: Input should be greater than 0" in capsys.readouterr().err


def test_cli_status__json(anvil, system, config_file):
    system.crash(0)
    out = io.StringIO()
    assert main(["--config", config_file(system, anvil.url), "status", "--json"], out=out) == 0
    doc = json.loads(out.getvalue())
    assert doc["markets"][0]["state"] == "NORMAL" and doc["markets"][0]["cvd_bps"] == 1_000
    assert doc["in_flight"] == []


def test_cli_status__table(anvil, system, config_file):
    out = io.StringIO()
    assert main(["--config", config_file(system, anvil.url), "status"], out=out) == 0
    assert "state" in out.getvalue().splitlines()[1] and "NORMAL" in out.getvalue()


def test_cli_run__trips_with_max_cycles(anvil, system, config_file):
    system.crash(0)
    assert main(["--config", config_file(system, anvil.url), "run", "--max-cycles", "3"]) == 0
    assert State(system.breaker.functions.state(0).call()) == State.HALTED


def test_cli_run__dry_run_flag_sends_nothing(anvil, system, config_file):
    system.crash(0)
    assert main(["--config", config_file(system, anvil.url), "run", "--dry-run", "--max-cycles", "3"]) == 0
    assert State(system.breaker.functions.state(0).call()) == State.NORMAL
    assert anvil.w3.eth.get_transaction_count(system.keepers[0]) == 0


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_metrics_and_health_endpoint(anvil, system, make_keeper):
    keeper = make_keeper(system, anvil.url)
    server = MetricsServer(keeper.metrics, keeper.health, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        code, body = _get(base + "/health")
        assert code == 503 and json.loads(body)["ok"] is False
        system.crash(0)
        keeper.cycle()
        keeper.cycle()
        code, body = _get(base + "/health")
        assert code == 200 and json.loads(body)["last_block"] == anvil.w3.eth.block_number - 1
        code, text = _get(base + "/metrics")
        assert code == 200
        for sample in (
            'keeper_indicator_bps{indicator="cvd",market="0",source="chain"} 1000.0',
            'keeper_transactions_sent_total{action="arm_trip"} 1.0',
            'keeper_transactions_landed_total{action="arm_trip",status="success"} 1.0',
            'keeper_market_state{market="0"} 1.0',
            "keeper_block_lag_seconds",
            "keeper_head_block",
            "keeper_rpc_errors_total",
            "keeper_cycle_seconds_bucket",
        ):
            assert sample in text
        assert _get(base + "/nope")[0] == 404
    finally:
        server.stop()


def test_json_logs__one_object_per_line_with_extras():
    record = logging.LogRecord("keeper.executor", logging.INFO, __file__, 1, "transaction sent", None, None)
    record.action = "trip(0)"
    record.nonce = 4
    doc = json.loads(JsonFormatter().format(record))
    assert doc["msg"] == "transaction sent" and doc["action"] == "trip(0)" and doc["nonce"] == 4
    assert doc["level"] == "info" and doc["ts"].endswith("Z")


@pytest.mark.fault
def test_cli_run__waits_for_rpc_at_start_up_and_stops_on_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from devchain import free_port

    config = tmp_path / "keeper.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "breaker": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                "rpc_urls": [f"http://127.0.0.1:{free_port()}"],
                "metrics_port": 0,
                "markets": [{"id": 0, "name": "usde"}],
                "state_dir": str(tmp_path / "state"),
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPER_")}
    env["KEEPER_PRIVATE_KEY"] = dev_key(1)
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "keeper", "--config", str(config), "run"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stderr=subprocess.PIPE,
    )
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, b"")), daemon=True)
    reader.start()
    # wait for the first retry (start-up time varies with the machine's load), not a fixed delay
    deadline = time.monotonic() + 90
    while not any(b"start-up failed, retrying" in line for line in lines) and time.monotonic() < deadline:
        assert proc.poll() is None  # still waiting for its RPC, not crashed
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    reader.join(timeout=10)
    err = b"".join(lines)
    assert proc.returncode == 0
    assert b"start-up failed, retrying" in err and b'"msg": "stopping"' in err
