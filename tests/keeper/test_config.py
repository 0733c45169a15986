"""Keeper config: YAML + KEEPER_* environment, one error naming the field, secrets never shown."""

from __future__ import annotations

import json
import logging

import pytest
import yaml
from eth_account import Account

from devchain import dev_key
from keeper.config import ConfigError, load_account, load_settings
from keeper.logs import JsonFormatter

BREAKER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KEY = dev_key(1)


@pytest.fixture
def write_config(tmp_path):
    def write_config(**fields):
        doc = {
            "breaker": BREAKER,
            "rpc_urls": ["http://127.0.0.1:8545", "http://127.0.0.1:8546/v3/apikey123"],
            "markets": [{"id": 0, "name": "usde", "cex": [{"exchange": "binance", "symbol": "USDE/USDT"}]}],
        }
        doc.update(fields)
        path = tmp_path / "keeper.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    return write_config


@pytest.fixture
def clean_env(monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith("KEEPER_"):
            monkeypatch.delenv(k)
    return monkeypatch


def test_load__yaml_and_env(write_config, clean_env):
    clean_env.setenv("KEEPER_PRIVATE_KEY", KEY)
    clean_env.setenv("KEEPER_FEES__MAX_FEE_GWEI", "300")
    clean_env.setenv("KEEPER_METRICS_PORT", "9200")
    s = load_settings(write_config(fees={"max_fee_gwei": 100, "bump_percent": 15}))
    assert s.fees.max_fee_gwei == 300  # the environment wins over the file
    assert s.fees.bump_percent == 15  # the file fills what the environment does not say
    assert s.metrics_port == 9200
    assert next(str(u) for u in s.rpc_urls).startswith("http://127.0.0.1:8545")
    assert s.markets[0].cex[0].exchange == "binance"
    assert load_account(s).address == Account.from_key(KEY).address


def test_load__rpc_urls_comma_separated_from_env(write_config, clean_env):
    clean_env.setenv("KEEPER_PRIVATE_KEY", KEY)
    clean_env.setenv("KEEPER_RPC_URLS", "http://a.example:8545, http://b.example:8545")
    s = load_settings(write_config())
    assert [u.host for u in s.rpc_urls] == ["a.example", "b.example"]


@pytest.mark.parametrize(
    "env, fields, expected",
    [
        (
            {"KEEPER_FEES__BUMP_PERCENT": "5"},
            {},
            "fees.bump_percent: Input should be greater than or equal to 10",
        ),
        ({}, {"metrics_port": 70000}, "metrics_port: Input should be less than or equal to 65535"),
        ({}, {"breaker": "0x1234"}, "breaker: expected a 0x-prefixed 20-byte address"),
        ({}, {"rpc_urls": []}, "rpc_urls: List should have at least 1 item"),
        ({}, {"rpc_urls": ["ftp://x"]}, "rpc_urls.0: URL scheme should be 'http' or 'https'"),
        ({}, {"markets": [{"id": 0, "name": "a"}, {"id": 0, "name": "b"}]}, "market ids must be unique"),
        ({}, {"unknown_field": 1}, "unknown_field: Extra inputs are not permitted"),
        (
            {},
            {"markets": [{"id": 0, "name": "a", "lce": {"leverage_shares": {5: 0.5}}}]},
            "markets.0.lce.leverage_shares: shares must sum to 1",
        ),
    ],
)
@pytest.mark.bad_input
def test_load__bad_value_names_field(write_config, clean_env, env, fields, expected):
    clean_env.setenv("KEEPER_PRIVATE_KEY", KEY)
    for k, v in env.items():
        clean_env.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(**fields))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)  # one error, one line


def test_load__no_key_reverts_unless_dry_run(write_config, clean_env):
    with pytest.raises(ConfigError, match="no signing key: set KEEPER_PRIVATE_KEY"):
        load_settings(write_config())
    s = load_settings(write_config(dry_run=True, from_address=BREAKER))
    assert load_account(s) is None


def test_load__secret_in_file_rejected(write_config, clean_env):
    with pytest.raises(ConfigError, match="private_key: secrets are read from the environment only"):
        load_settings(write_config(private_key=KEY))


def test_secrets__never_printed(write_config, clean_env, caplog):
    clean_env.setenv("KEEPER_PRIVATE_KEY", KEY)
    s = load_settings(write_config())
    shown = repr(s) + str(s) + json.dumps(s.public_summary()) + s.model_dump_json()
    assert KEY[2:] not in shown and KEY[2:].lower() not in shown.lower()
    assert "apikey123" not in repr(s)  # RPC URLs are shown without path or query
    record = logging.LogRecord("keeper", logging.INFO, __file__, 1, "settings", None, None)
    record.settings = s
    assert KEY[2:] not in JsonFormatter().format(record)


def test_secrets__bad_key_error_does_not_echo_it(write_config, clean_env):
    bad = "0x" + "zz" * 32
    clean_env.setenv("KEEPER_PRIVATE_KEY", bad)
    with pytest.raises(ConfigError) as err:
        load_settings(write_config())
    assert "private_key: expected 32 bytes of hex" in str(err.value)
    assert "zz" * 8 not in str(err.value)


def test_keystore__decrypts_with_env_password(write_config, clean_env, tmp_path):
    ks = tmp_path / "keeper.json"
    ks.write_text(json.dumps(Account.encrypt(KEY, "hunter2", kdf="pbkdf2", iterations=1_000)))
    clean_env.setenv("KEEPER_KEYSTORE_PASSWORD", "hunter2")
    s = load_settings(write_config(keystore_path=str(ks)))
    assert load_account(s).address == Account.from_key(KEY).address
    assert "hunter2" not in repr(s)


def test_keystore__wrong_password_reverts(write_config, clean_env, tmp_path):
    ks = tmp_path / "keeper.json"
    ks.write_text(json.dumps(Account.encrypt(KEY, "hunter2", kdf="pbkdf2", iterations=1_000)))
    clean_env.setenv("KEEPER_KEYSTORE_PASSWORD", "not-the-password")
    s = load_settings(write_config(keystore_path=str(ks)))
    with pytest.raises(ConfigError, match="wrong password in KEEPER_KEYSTORE_PASSWORD") as err:
        load_account(s)
    assert "not-the-password" not in str(err.value)


def test_keystore__without_password_reverts(write_config, clean_env, tmp_path):
    ks = tmp_path / "keeper.json"
    ks.write_text("{}")
    with pytest.raises(ConfigError, match="needs the password in KEEPER_KEYSTORE_PASSWORD"):
        load_settings(write_config(keystore_path=str(ks)))
