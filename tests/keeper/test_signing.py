"""Signing: a local key (environment or file), an encrypted keystore with a password file, and a remote
signer over JSON-RPC `eth_signTransaction` (web3signer, Clef); the key never shows in logs, tracebacks,
repr, pickles or config dumps."""

from __future__ import annotations

import io
import json
import pickle
import threading
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account

from devchain import dev_key
from keeper.cli import main
from keeper.config import ConfigError, load_account, load_settings
from keeper.logs import setup_logging
from keeper.model import State
from keeper.signer import LocalSigner, RemoteSigner, SignerError
from tests.keeper.conftest import LoopbackServer, QuietHandler, nonce_of, tripped_events


def state_of(system, market=0) -> State:
    return State(system.breaker.functions.state(market).call())


class SignerServer(LoopbackServer):
    """A small JSON-RPC signer holding one key, answering `eth_accounts` and `eth_signTransaction` as
    web3signer does (the raw transaction as a hex string). `tamper` may rewrite a request before signing."""

    def __init__(self, key: str) -> None:
        self.account = Account.from_key(key)
        self.requests: list[dict[str, Any]] = []
        self.tamper: Callable[[dict[str, Any]], dict[str, Any]] = lambda tx: tx
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                server.requests.append(req)
                if req["method"] == "eth_accounts":
                    answer = {"result": [server.account.address]}
                elif req["method"] == "eth_signTransaction":
                    answer = server.sign(req["params"][0])
                else:
                    answer = {"error": {"code": -32601, "message": "method not found"}}
                self.reply(200, json.dumps({"jsonrpc": "2.0", "id": req["id"], **answer}).encode())

        super().__init__(Handler)
        self.url += "/api/TOKEN-abc"

    def sign(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["from"].lower() != self.account.address.lower():
            return {"error": {"code": -32000, "message": f"no key for {params['from']}"}}
        tx = {
            k: (int(v, 16) if k not in ("to", "data", "from") else v)
            for k, v in params.items()
            if k != "from"
        }
        tx = self.tamper(tx)
        signed = self.account.sign_transaction(tx)
        return {"result": "0x" + bytes(signed.raw_transaction).hex()}


@pytest.fixture
def signer_server(closing):
    return lambda key: closing(SignerServer(key))


def test_remote_signer__keeper_trips_without_ever_holding_the_key(anvil, system, make_keeper, signer_server):
    server = signer_server(dev_key(1))
    keeper = make_keeper(
        system, anvil.url, private_key=None, remote_signer_url=server.url, from_address=system.keepers[0]
    )
    assert (
        repr(keeper.executor.account) == f"RemoteSigner({system.keepers[0]} at http://127.0.0.1:"
        f"{server.server.server_address[1]})"
    )
    system.crash(0)
    for _ in range(3):
        keeper.cycle()
    assert state_of(system) == State.HALTED and len(tripped_events(system)) == 1
    signed = [r for r in server.requests if r["method"] == "eth_signTransaction"]
    assert len(signed) == 2 and [r["params"][0]["nonce"] for r in signed] == ["0x0", "0x1"]
    assert RemoteSigner(server.url, system.keepers[0]).accounts() == [system.keepers[0]]


def test_remote_signer__signature_by_another_key_refused_nothing_sent(
    anvil, system, make_keeper, signer_server
):
    server = signer_server(dev_key(2))  # holds the wrong key, and claims it signs for ours
    server.sign = lambda params: {
        "result": "0x"
        + bytes(
            server.account.sign_transaction(
                {
                    k: (int(v, 16) if k not in ("to", "data", "from") else v)
                    for k, v in params.items()
                    if k != "from"
                }
            ).raw_transaction
        ).hex()
    }
    keeper = make_keeper(
        system, anvil.url, private_key=None, remote_signer_url=server.url, from_address=system.keepers[0]
    )
    system.crash(0)
    outcome = keeper.cycle().markets[0].outcome
    assert (
        outcome.status == "failed"
        and f"signed by {system.keepers[1]}, not {system.keepers[0]}" in outcome.detail
    )
    assert nonce_of(system, system.keepers[1]) == 0 and not keeper.executor.journal.items
    assert keeper.metrics.value("keeper_sends_total", {"action": "arm_trip", "outcome": "signer_error"}) == 1


def test_remote_signer__changed_fields_refused(anvil, system, make_keeper, signer_server):
    server = signer_server(dev_key(1))
    server.tamper = lambda tx: dict(tx, maxFeePerGas=tx["maxFeePerGas"] * 10)  # a signer that overpays
    keeper = make_keeper(
        system, anvil.url, private_key=None, remote_signer_url=server.url, from_address=system.keepers[0]
    )
    system.crash(0)
    outcome = keeper.cycle().markets[0].outcome
    assert (
        outcome.status == "failed"
        and "signed transaction differs from the request: {'maxFeePerGas'" in outcome.detail
    )
    assert nonce_of(system, system.keepers[0]) == 0


def test_remote_signer__down_is_a_failed_send(anvil, system, make_keeper, signer_server):
    server = signer_server(dev_key(1))
    server.close()
    keeper = make_keeper(
        system, anvil.url, private_key=None, remote_signer_url=server.url, from_address=system.keepers[0]
    )
    system.crash(0)
    outcome = keeper.cycle().markets[0].outcome
    assert outcome.status == "failed" and "eth_signTransaction failed (ConnectionError)" in outcome.detail
    assert "TOKEN-abc" not in outcome.detail


def test_remote_signer__needs_from_address(tmp_path):
    with pytest.raises(ConfigError, match="remote_signer_url needs from_address"):
        load_settings(
            None,
            breaker="0x" + "11" * 20,
            rpc_urls=["http://127.0.0.1:1"],
            markets=[{"id": 0, "name": "m"}],
            remote_signer_url="http://127.0.0.1:2",
        )


def base_settings(**extra: Any):
    return load_settings(
        None,
        breaker="0x" + "11" * 20,
        rpc_urls=["http://127.0.0.1:1"],
        markets=[{"id": 0, "name": "m"}],
        **extra,
    )


def test_key_file__read_like_a_docker_secret(tmp_path, monkeypatch):
    for k in [k for k in __import__("os").environ if k.startswith("KEEPER_")]:
        monkeypatch.delenv(k)
    key_file = tmp_path / "keeper_key"
    key_file.write_text(dev_key(1) + "\n")
    signer = load_account(base_settings(private_key_file=str(key_file)))
    assert isinstance(signer, LocalSigner) and signer.address == Account.from_key(dev_key(1)).address


def test_keystore__password_from_a_file(tmp_path, monkeypatch):
    for k in [k for k in __import__("os").environ if k.startswith("KEEPER_")]:
        monkeypatch.delenv(k)
    keystore, password = tmp_path / "keystore.json", tmp_path / "password"
    keystore.write_text(json.dumps(Account.encrypt(dev_key(1), "hunter2", kdf="pbkdf2", iterations=1_000)))
    password.write_text("hunter2\n")
    signer = load_account(base_settings(keystore_path=str(keystore), keystore_password_file=str(password)))
    assert signer.address == Account.from_key(dev_key(1)).address
    password.write_text("not-the-password-xyz")
    with pytest.raises(ConfigError, match=r"wrong password in keystore_password_file .*password$") as err:
        load_account(base_settings(keystore_path=str(keystore), keystore_password_file=str(password)))
    assert "not-the-password-xyz" not in "".join(__import__("traceback").format_exception(err.value))


def test_key_sources__one_at_a_time(tmp_path):
    key_file = tmp_path / "k"
    key_file.write_text(dev_key(1))
    with pytest.raises(
        ConfigError, match="give one signing key source, not KEEPER_PRIVATE_KEY and private_key_file"
    ):
        base_settings(private_key=dev_key(1), private_key_file=str(key_file))


# ---------------------------------------------------------------- the key never shows


def traceback_of_a_failed_signing(signer: LocalSigner) -> str:
    """The traceback of a signing that raises inside eth_account, every frame's locals included (caught here,
    so the frames are the signer's and eth_account's, not a test's holding the key)."""
    try:
        signer.sign_transaction({"to": "not an address"})
    except SignerError:
        import sys

        return "".join(traceback.TracebackException(*sys.exc_info(), capture_locals=True).format())
    raise AssertionError("signing a malformed transaction should fail")


def test_secrets__key_never_in_logs_tracebacks_repr_pickles_or_dumps(
    anvil, system, make_keeper, rpc_proxy, tmp_path, monkeypatch, capsys
):
    key = dev_key(1)
    secret = key.removeprefix("0x").lower()
    shown: list[str] = []

    # logs at DEBUG, through the keeper's JSON formatter, including a failed cycle's traceback
    stream = io.StringIO()
    setup_logging("DEBUG", stream)
    proxy = rpc_proxy(anvil.url)
    keeper = make_keeper(system, proxy.url)
    system.crash(0)
    for _ in range(2):
        keeper.cycle()
    proxy.kill()  # every RPC down now: the next cycle fails with a traceback
    stop = threading.Event()
    runner = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
    runner.start()
    threading.Event().wait(0.5)
    stop.set()
    runner.join(10)
    logs = stream.getvalue()
    assert '"msg": "cycle failed"' in logs and "Traceback" in logs
    shown.append(logs)

    # repr, str, vars and dumps of the settings, the keeper, its executor and its signer
    s = keeper.settings
    signer = keeper.executor.account
    shown += [
        repr(s),
        str(s),
        s.model_dump_json(),
        json.dumps(s.public_summary()),
        repr(s.model_dump()),
        repr(keeper),
        repr(vars(keeper)),
        repr(vars(keeper.executor)),
        repr(signer),
        str(signer),
        repr(vars(signer)),
    ]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)

    # a traceback through signing, with its locals' reprs (what error trackers record)
    shown.append(traceback_of_a_failed_signing(signer))

    # a malformed key: the error, its cause chain and its traceback
    bad = "0x" + secret[:-2] + "zz"
    with pytest.raises(ConfigError) as err:
        base_settings(private_key=bad)
    shown.append("".join(traceback.format_exception(err.value)))
    assert (
        err.value.__cause__ is None and err.value.__suppress_context__
    )  # pydantic's error (with the input) hidden

    # `keeper check` and `keeper status` with the key in the environment
    monkeypatch.setenv("KEEPER_PRIVATE_KEY", key)
    config = tmp_path / "keeper.yaml"
    config.write_text(
        json.dumps(
            {
                "breaker": system.breaker.address,
                "rpc_urls": [anvil.url],
                "metrics_port": 0,
                "markets": [{"id": 0, "name": "m"}],
                "state_dir": str(tmp_path / "s"),
            }
        )
    )
    out = io.StringIO()
    main(["--config", str(config), "check"], out=out)
    main(["--config", str(config), "status", "--json"], out=out)
    shown.append(out.getvalue() + "".join(capsys.readouterr()))

    for text in shown:
        assert secret not in text.lower() and secret[2:40] not in text.lower(), text[:300]
        assert bad[2:] not in text
