"""`python -m keeper run | check | status`.

    python -m keeper --config keeper.yaml check      # config, RPCs, chain id, breaker, role, balance
    python -m keeper --config keeper.yaml status     # each market's state and indicators now
    python -m keeper --config keeper.yaml run        # the loop (Ctrl-C or SIGTERM to stop)

Exit status: 0 fine, 1 a check failed, 2 the configuration is invalid.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from keeper.config import ConfigError, KeeperSettings, load_account, load_settings, redact_url, sender_address

log = logging.getLogger("keeper.cli")


def _settings(args: argparse.Namespace, **overrides: Any) -> KeeperSettings:
    path = args.config
    if path is None and Path("keeper.yaml").is_file():
        path = "keeper.yaml"
    return load_settings(path, **overrides)


def cmd_check(settings: KeeperSettings, out: Any) -> int:
    from web3 import Web3

    from keeper.abi import AbiError, load_abi
    from keeper.chain import make_web3

    problems: list[str] = []

    def line(ok: bool, what: str, detail: str = "") -> None:
        out.write(f"{'ok  ' if ok else 'FAIL'}  {what}{': ' + detail if detail else ''}\n")
        if not ok:
            problems.append(what)

    line(True, "config", json.dumps(settings.public_summary()))
    try:
        account = load_account(settings)
        sender = sender_address(settings, account)
        line(True, "key", f"address {sender}" + (" (dry run, no key)" if account is None else ""))
    except ConfigError as exc:
        line(False, "key", str(exc))
        sender = settings.from_address
    try:
        abi = load_abi("CircuitBreaker", settings.build_path)
        line(True, "abi", "CircuitBreaker")
    except AbiError as exc:
        line(False, "abi", str(exc))
        abi = None
    working: Web3 | None = None
    for i, url in enumerate(settings.rpc_urls):
        w3 = make_web3(str(url), settings.rpc_timeout_s)
        label = f"rpc{i} {redact_url(str(url))}"
        try:
            t0 = time.perf_counter()
            chain_id = w3.eth.chain_id
            head = w3.eth.block_number
            ms = (time.perf_counter() - t0) * 1000
        except Exception as exc:  # noqa: BLE001 - reported
            line(False, label, f"{type(exc).__name__}")
            continue
        ok = settings.chain_id is None or settings.chain_id == chain_id
        line(ok, label, f"chain {chain_id}, block {head}, {ms:.0f} ms"
             + ("" if ok else f" (config says chain_id {settings.chain_id})"))
        working = working or w3
    if settings.private_relay_url:
        line(True, "private relay", f"{redact_url(str(settings.private_relay_url))} (used for sends only)")
    if working is None:
        line(False, "rpc", "no endpoint answers")
        return 1
    code = working.eth.get_code(settings.breaker)
    line(len(code) > 0, "breaker", settings.breaker + ("" if code else " has no code on this chain"))
    if code and abi:
        breaker = working.eth.contract(settings.breaker, abi=abi)
        count = breaker.functions.market_count().call()
        for m in settings.markets:
            line(m.id < count, f"market {m.id} {m.name}", "registered" if m.id < count
                 else f"not registered (the breaker has {count} markets)")
        if sender:
            role = breaker.functions.hasRole(breaker.functions.KEEPER_ROLE().call(), sender).call()
            line(True, "keeper role", "held: rule B and extensions enabled" if role
                 else "not held: rule A, resume and sync only")
    if sender and not settings.dry_run:
        balance = working.eth.get_balance(sender)
        line(balance > 0, "balance", f"{balance / 1e18:.6f} ETH" + ("" if balance else ": fund the keeper"))
    return 1 if problems else 0


def cmd_status(settings: KeeperSettings, out: Any, as_json: bool) -> int:
    from keeper.abi import load_abi
    from keeper.chain import BreakerReader, RpcPool
    from keeper.executor import Journal

    pool = RpcPool.from_urls([str(u) for u in settings.rpc_urls], settings.rpc_timeout_s)
    account = load_account(settings)
    sender = sender_address(settings, account)
    reader = BreakerReader(pool, settings.breaker, load_abi("CircuitBreaker", settings.build_path), sender)
    head, markets = reader.snapshot(settings.market_ids)
    rows = []
    for m in settings.markets:
        c = markets[m.id]
        s, ind = c.status, c.indicators
        rows.append({
            "id": m.id, "name": m.name, "state": c.state.name, "stored_state": s.state.name,
            "resume_in_s": max(0, s.resume_after - c.timestamp) if c.state.name == "HALTED" else None,
            "lapse_in_s": max(0, s.lapse_at - c.timestamp) if c.state.name == "HALTED" else None,
            "armed_block": s.armed_block or None, "trips_today": s.trips_today,
            "cvd_bps": ind.cvd_bps, "rl_bps": ind.rl_bps, "si_bps": ind.si_bps, "vp_bps": ind.vp_bps,
            "reference_valid": ind.reference_valid,
            # the reopening auction, if any, and its live orders for this halt's round
            "auction": c.auction or None, "auction_orders": c.auction_orders if c.auction else None,
        })
    chain_id = pool.call(lambda w3: w3.eth.chain_id)
    in_flight = []
    if sender:
        journal = Journal(settings.state_dir / f"journal-{chain_id}-{sender.lower()}.json")
        in_flight = [{"market": r.market_id, "action": r.kind, "nonce": r.nonce, "tx": r.hashes[-1],
                      "replacements": r.replacements} for r in journal.items.values()]
    if as_json:
        out.write(json.dumps({"block": head["number"], "markets": rows, "in_flight": in_flight}, indent=2) + "\n")
        return 0
    out.write(f"block {head['number']}  keeper {sender or '-'}\n")
    cols = ["id", "name", "state", "stored_state", "resume_in_s", "cvd_bps", "rl_bps", "si_bps", "vp_bps",
            "armed_block", "trips_today", "auction_orders"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    out.write("  ".join(c.ljust(widths[c]) for c in cols) + "\n")
    for r in rows:
        out.write("  ".join(str("-" if r[c] is None else r[c]).ljust(widths[c]) for c in cols) + "\n")
    for f in in_flight:
        out.write(f"in flight: market {f['market']} {f['action']} nonce {f['nonce']} {f['tx']}\n")
    return 0


def cmd_run(settings: KeeperSettings, max_cycles: int | None) -> int:
    from keeper.abi import AbiError
    from keeper.metrics import MetricsServer
    from keeper.runner import ChainMismatch, Keeper

    account = load_account(settings)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("stopping", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    keeper = None
    wait = 1.0
    while keeper is None:  # unattended: an RPC that is down at start-up is waited for, not fatal
        try:
            keeper = Keeper(settings, account=account)
        except (ChainMismatch, AbiError) as exc:
            log.error("cannot start", extra={"error": str(exc)})
            return 1
        except Exception as exc:  # noqa: BLE001 - logged, retried with back-off
            log.error("start-up failed, retrying", extra={"error": f"{type(exc).__name__}: {exc}",
                                                          "retry_in_s": wait})
            if stop.wait(wait):
                return 0
            wait = min(wait * 2, 30.0)
    server = None
    if settings.metrics_port:
        server = MetricsServer(keeper.metrics, keeper.health, settings.metrics_host, settings.metrics_port).start()
        log.info("metrics and health listening", extra={"metrics": f"http://{settings.metrics_host}:{server.port}"
                                                                   "/metrics", "health": "/health"})
    try:
        keeper.run(stop, max_cycles=max_cycles)
    finally:
        if server:
            server.stop()
    return 0


def main(argv: list[str] | None = None, out: Any = None) -> int:
    from keeper.logs import setup_logging

    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m keeper", description="Circuit-breaker keeper")
    parser.add_argument("--config", "-c", help="YAML config (default: ./keeper.yaml if present); "
                        "KEEPER_* environment variables override it")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the keeper loop")
    run.add_argument("--dry-run", action="store_true", help="decide and simulate, never send")
    run.add_argument("--max-cycles", type=int, default=None, help="stop after this many cycles")
    sub.add_parser("check", help="validate config and connectivity")
    status = sub.add_parser("status", help="print each market's state and indicators")
    status.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    overrides: dict[str, Any] = {}
    if getattr(args, "dry_run", False):
        overrides["dry_run"] = True
    try:
        settings = _settings(args, **overrides)
    except ConfigError as exc:
        sys.stderr.write(f"config error: {exc}\n")
        return 2
    setup_logging(settings.log_level)
    try:
        if args.command == "check":
            return cmd_check(settings, out)
        if args.command == "status":
            return cmd_status(settings, out, args.json)
        return cmd_run(settings, args.max_cycles)
    except ConfigError as exc:
        sys.stderr.write(f"config error: {exc}\n")
        return 2
