"""Operator commands: every config error at once, read-only `status` and `check` without a key, what `check`
exercises, and the runbook commands (`journal list | drop`, `cancel --nonce N`, `pause` / `unpause`)."""

from __future__ import annotations

import io
import json
import os

import pytest
import yaml
from eth_account import Account

from devchain import dev_key
from keeper.cli import main
from keeper.config import ConfigError, load_settings
from keeper.model import State
from keeper.sources import cex
from tests.keeper.conftest import nonce_of, recorded
from tests.keeper.test_faults import fault_proxy  # noqa: F401 - fixture


@pytest.fixture
def config(tmp_path, monkeypatch):
    for k in [k for k in os.environ if k.startswith("KEEPER_")]:
        monkeypatch.delenv(k)

    def config(system, url, key: bool = True, **extra):
        doc = {
            "breaker": system.breaker.address,
            "rpc_urls": [url],
            "metrics_port": 0,
            "markets": [{"id": 0, "name": "usde"}],
            "state_dir": str(tmp_path / "state"),
            **extra,
        }
        path = tmp_path / "keeper.yaml"
        path.write_text(yaml.safe_dump(doc))
        if key:
            monkeypatch.setenv("KEEPER_PRIVATE_KEY", dev_key(1))
        else:
            monkeypatch.delenv("KEEPER_PRIVATE_KEY", raising=False)
        return str(path)

    return config


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_config__every_error_reported_at_once():
    with pytest.raises(ConfigError) as err:
        load_settings(
            None,
            breaker="0x12",
            rpc_urls=["http://127.0.0.1:1"],
            markets=[{"id": 0, "name": "m"}],
            private_key=dev_key(1),
            poll_interval_s=0,
            fees={"bump_percent": 5},
        )
    lines = str(err.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == ["breaker", "fees.bump_percent", "poll_interval_s"]


def test_status_and_check__run_without_a_key(anvil, system, config):
    path = config(system, anvil.url, key=False)
    code, text = run("--config", path, "check")
    assert code == 0, text
    assert "ok    key: none (read-only)" in text
    code, text = run("--config", path, "status", "--json")
    assert code == 0 and json.loads(text)["markets"][0]["state"] == "NORMAL"
    code, _ = run("--config", path, "run", "--max-cycles", "1")
    assert code == 2  # sending still needs a key


def test_check__exercises_pending_fee_history_exchanges_state_dir_and_balance(
    anvil, system, config, monkeypatch, tmp_path
):
    monkeypatch.setattr(cex, "make_exchange", lambda exchange, timeout_s=5.0: recorded("binance_usde_calm"))
    path = config(
        system,
        anvil.url,
        chain_id=31337,
        markets=[
            {
                "id": 0,
                "name": "usde",
                "cex": [
                    {"exchange": "binance", "symbol": "USDE/USDT"},
                    {"exchange": "binance", "symbol": "NOPE/USDT"},
                ],
            }
        ],
    )
    code, text = run("--config", path, "check")
    assert code == 1
    assert "ok    eth_call at pending: answers" in text
    assert "ok    eth_feeHistory: next base fee" in text and "first-send ceiling" in text
    assert "FAIL  exchange binance: unknown symbols NOPE/USDT" in text
    assert f"ok    state dir: {tmp_path / 'state'} writable" in text
    assert "ok    balance: 10000.000000 ETH" in text


def test_check__pending_refused_and_state_dir_read_only_fail(anvil, system, config, fault_proxy, tmp_path):  # noqa: F811
    proxy = fault_proxy(anvil.url)
    proxy.fault = lambda method, params, in_batch: (
        {"code": -32602, "message": "pending not supported"}
        if method == "eth_call" and "pending" in json.dumps(params)
        else None
    )
    blocked = tmp_path / "file"
    blocked.write_text("")
    code, text = run("--config", config(system, proxy.url, state_dir=str(blocked / "state")), "check")
    assert code == 1
    assert "FAIL  eth_call at pending: Web3RPCError" in text and "(set simulate_block: latest)" in text
    assert "FAIL  state dir:" in text and "not writable" in text


def test_pause__nothing_sent_until_unpaused(anvil, system, config, make_keeper, tmp_path):
    path = config(system, anvil.url)
    keeper = make_keeper(system, anvil.url, state_dir=str(tmp_path / "state"))
    assert run("--config", path, "pause")[0] == 0
    system.crash(0)
    outcome = keeper.cycle().markets[0].outcome
    assert outcome.status == "paused" and nonce_of(system, system.keepers[0]) == 0
    assert keeper.metrics.value("keeper_paused") == 1 and keeper.health()[1]["paused"] is True
    assert run("--config", path, "unpause")[0] == 0
    for _ in range(2):
        keeper.cycle()
    assert State(system.breaker.functions.state(0).call()) == State.HALTED


def test_cancel__replaces_an_unknown_pending_nonce_then_journal_list_and_drop(anvil, system, config):
    path = config(system, anvil.url)
    anvil.set_automine(False)
    acct = Account.from_key(dev_key(1))
    base = anvil.w3.eth.get_block("latest").baseFeePerGas
    parked = acct.sign_transaction(
        {
            "to": acct.address,
            "value": 0,
            "gas": 21_000,
            "nonce": 0,
            "chainId": 31337,
            "type": 2,
            "maxFeePerGas": 4 * base,
            "maxPriorityFeePerGas": 0,
        }
    )
    anvil.w3.eth.send_raw_transaction(parked.raw_transaction)

    code, text = run("--config", path, "cancel", "--nonce", "0")
    assert code == 0 and text.startswith("nonce 0: cancel 0x")
    code, text = run("--config", path, "journal", "list")
    rows = json.loads(text)["in_flight"]
    assert [(r["nonce"], r["action"]) for r in rows] == [(0, "cancel")] and rows[0]["tip_gwei"] > 0

    code, _ = run("--config", path, "journal", "drop", "--nonce", "0")
    assert code == 1  # not used yet: its transaction may still land
    anvil.mine()
    mined = anvil.w3.eth.get_block("latest", True).transactions
    assert [t["hash"].to_0x_hex() for t in mined] == [rows[0]["tx"]]  # the cancel, not the parked one
    code, text = run("--config", path, "journal", "drop", "--nonce", "0")
    assert code == 0 and json.loads(run("--config", path, "journal", "list")[1])["in_flight"] == []
    assert run("--config", path, "cancel", "--nonce", "0")[0] == 1  # already used


def test_cancel__refused_while_a_keeper_holds_the_key(anvil, system, config, make_keeper, tmp_path, capsys):
    path = config(system, anvil.url)
    make_keeper(system, anvil.url, state_dir=str(tmp_path / "state"))
    assert run("--config", path, "cancel", "--nonce", "0")[0] == 1
    assert "is locked by" in capsys.readouterr().err
