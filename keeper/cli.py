"""`python -m keeper run | check | status | journal | cancel | pause | unpause`.

    python -m keeper --config keeper.yaml check      # config, RPCs, relay, eth_call at pending,
                                                     # feeHistory, exchanges, state dir, breaker, role,
                                                     # balance (no key needed)
    python -m keeper --config keeper.yaml status     # each market's state and indicators now (no key needed)
    python -m keeper --config keeper.yaml run        # the loop (Ctrl-C or SIGTERM to stop)
    python -m keeper journal list | drop --nonce N   # the in-flight journal (drop: only a nonce already used)
    python -m keeper cancel --nonce N                # replace pending nonce N with a zero-value self-transfer
    python -m keeper pause | unpause                 # stop / resume sending; a running keeper follows at once

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

from eth_typing import ChecksumAddress
from web3 import Web3

from keeper.config import ConfigError, KeeperSettings, load_account, load_settings, redact_url, sender_address
from keeper.journal import PAUSE_FILE, StateDirLocked

log = logging.getLogger("keeper.cli")


READ_ONLY = ("check", "status", "journal", "pause", "unpause")


def _settings(args: argparse.Namespace, **overrides: Any) -> KeeperSettings:
    path = args.config
    if path is None and Path("keeper.yaml").is_file():
        path = "keeper.yaml"
    return load_settings(path, require_key=args.command not in READ_ONLY, **overrides)


def cmd_check(settings: KeeperSettings, out: Any) -> int:
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
        if account is None:
            line(True, "key", f"none (read-only){': address ' + sender if sender else ''}")
        else:
            line(True, "key", f"address {sender} ({account.kind} signer)")
        if account is not None and hasattr(account, "accounts"):
            try:
                held = account.accounts()
                line(
                    sender in held,
                    "remote signer",
                    f"holds {sender}"
                    if sender in held
                    else f"does not hold {sender} (holds {len(held)} accounts)",
                )
            except Exception as exc:  # noqa: BLE001 - reported
                line(False, "remote signer", str(exc))
    except ConfigError as exc:
        line(False, "key", str(exc))
        sender = settings.from_address
    _check_state_dir(settings, line)
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
        line(
            ok,
            label,
            f"chain {chain_id}, block {head}, {ms:.0f} ms"
            + ("" if ok else f" (config says chain_id {settings.chain_id})"),
        )
        working = working or w3
    if settings.private_relay_url:
        relay = make_web3(str(settings.private_relay_url), settings.rpc_timeout_s)
        label = f"private relay {redact_url(str(settings.private_relay_url))}"
        try:
            relay_chain = relay.eth.chain_id
            line(
                settings.chain_id in (None, relay_chain), label, f"answers, chain {relay_chain} (sends only)"
            )
        except Exception as exc:  # noqa: BLE001 - reported
            line(
                False,
                label,
                f"{type(exc).__name__}"
                + (": sends fall back to the public RPCs" if settings.relay_fallback_public else ""),
            )
    if working is None:
        line(False, "rpc", "no endpoint answers")
        return 1
    _check_rpc_features(settings, working, line)
    _check_exchanges(settings, line)
    code = working.eth.get_code(settings.breaker)
    line(len(code) > 0, "breaker", settings.breaker + ("" if code else " has no code on this chain"))
    if code and abi:
        breaker = working.eth.contract(settings.breaker, abi=abi)
        count = breaker.functions.market_count().call()
        for m in settings.markets:
            line(
                m.id < count,
                f"market {m.id} {m.name}",
                "registered" if m.id < count else f"not registered (the breaker has {count} markets)",
            )
        if sender:
            role = breaker.functions.hasRole(breaker.functions.KEEPER_ROLE().call(), sender).call()
            line(
                True,
                "keeper role",
                "held: rule B and extensions enabled" if role else "not held: rule A, resume and sync only",
            )
    if sender and not settings.dry_run:
        balance = working.eth.get_balance(sender)
        low = balance < settings.low_balance_eth * 10**18
        line(
            not low,
            "balance",
            f"{balance / 1e18:.6f} ETH"
            + (f": below low_balance_eth {settings.low_balance_eth}, fund the keeper" if low else ""),
        )
    if (settings.state_dir / PAUSE_FILE).exists():
        line(True, "sending", "PAUSED (python -m keeper unpause)")
    return 1 if problems else 0


def _check_state_dir(settings: KeeperSettings, line: Any) -> None:
    import tempfile

    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.state_dir, prefix=".check-"):
            pass
        line(True, "state dir", f"{settings.state_dir} writable")
    except OSError as exc:
        line(
            False,
            "state dir",
            f"{settings.state_dir} not writable ({type(exc).__name__}): the journal lives there",
        )


def _check_rpc_features(settings: KeeperSettings, w3: Any, line: Any) -> None:
    """What sending needs from the node: eth_call at `pending` (or the configured block) and
    eth_feeHistory."""
    try:
        w3.eth.call({"to": settings.breaker, "data": "0x"}, settings.simulate_block)
        line(True, f"eth_call at {settings.simulate_block}", "answers")
    except Exception as exc:  # noqa: BLE001 - a revert is an answer; anything else is reported
        from keeper.executor.calls import _is_revert

        ok = _is_revert(exc)
        line(
            ok,
            f"eth_call at {settings.simulate_block}",
            "answers"
            if ok
            else f"{type(exc).__name__}: {str(exc)[:120]}"
            + (" (set simulate_block: latest)" if settings.simulate_block == "pending" else ""),
        )
    try:
        history = w3.eth.fee_history(
            settings.fees.history_blocks, "latest", [settings.fees.reward_percentile]
        )
        base = int(history["baseFeePerGas"][-1])
        from keeper.fees import GWEI, first_send_ceiling

        ceiling = first_send_ceiling(int(settings.fees.max_fee_gwei * GWEI), settings.fees.bump_percent)
        line(
            base < ceiling,
            "eth_feeHistory",
            f"next base fee {base / GWEI:.3f} gwei, first-send ceiling "
            f"{ceiling / GWEI:.3f} gwei (cap {settings.fees.max_fee_gwei} less two replacements)",
        )
    except Exception as exc:  # noqa: BLE001 - reported
        line(False, "eth_feeHistory", f"{type(exc).__name__}: {str(exc)[:120]}")


def _check_exchanges(settings: KeeperSettings, line: Any) -> None:
    """Each configured exchange knows its symbols (one load_markets per exchange)."""
    venues: dict[str, set[str]] = {}
    for m in settings.markets:
        for v in m.cex:
            venues.setdefault(v.exchange, set()).update(s for s in (v.symbol, v.perp_symbol) if s)
    if not venues:
        return
    from keeper.sources.cex import make_exchange

    for exchange, symbols in sorted(venues.items()):
        try:
            known = make_exchange(exchange, settings.rpc_timeout_s).load_markets()
        except Exception as exc:  # noqa: BLE001 - reported
            line(False, f"exchange {exchange}", f"{type(exc).__name__}: {str(exc)[:120]}")
            continue
        missing = sorted(symbols - set(known))
        line(
            not missing,
            f"exchange {exchange}",
            f"{len(symbols)} symbols listed" if not missing else f"unknown symbols {', '.join(missing)}",
        )


def cmd_status(settings: KeeperSettings, out: Any, as_json: bool) -> int:
    from keeper.abi import load_abi
    from keeper.chain import BreakerReader, RpcPool
    from keeper.journal import Journal

    pool = RpcPool.from_urls([str(u) for u in settings.rpc_urls], settings.rpc_timeout_s)
    sender = settings.from_address or _address_only(settings)
    reader = BreakerReader(pool, settings.breaker, load_abi("CircuitBreaker", settings.build_path), sender)
    head, markets = reader.snapshot(settings.market_ids)
    rows = []
    for m in settings.markets:
        c = markets[m.id]
        s, ind = c.status, c.indicators
        rows.append(
            {
                "id": m.id,
                "name": m.name,
                "state": c.state.name,
                "stored_state": s.state.name,
                "resume_in_s": max(0, s.resume_after - c.timestamp) if c.state.name == "HALTED" else None,
                "lapse_in_s": max(0, s.lapse_at - c.timestamp) if c.state.name == "HALTED" else None,
                "armed_block": s.armed_block or None,
                "trips_today": s.trips_today,
                "cvd_bps": ind.cvd_bps,
                "rl_bps": ind.rl_bps,
                "si_bps": ind.si_bps,
                "vp_bps": ind.vp_bps,
                "reference_valid": ind.reference_valid,
                # the reopening auction, if any, and its live orders for this halt's round
                "auction": c.auction or None,
                "auction_orders": c.auction_orders if c.auction else None,
            }
        )
    chain_id = pool.call(lambda w3: w3.eth.chain_id)
    in_flight = []
    if sender:
        journal = Journal(settings.state_dir / f"journal-{chain_id}-{sender.lower()}.json")
        in_flight = [
            {
                "market": r.market_id,
                "action": r.kind,
                "nonce": r.nonce,
                "tx": r.hashes[-1],
                "replacements": r.replacements,
            }
            for r in journal.items.values()
        ]
    if as_json:
        out.write(
            json.dumps({"block": head["number"], "markets": rows, "in_flight": in_flight}, indent=2) + "\n"
        )
        return 0
    out.write(f"block {head['number']}  keeper {sender or '-'}\n")
    cols = [
        "id",
        "name",
        "state",
        "stored_state",
        "resume_in_s",
        "cvd_bps",
        "rl_bps",
        "si_bps",
        "vp_bps",
        "armed_block",
        "trips_today",
        "auction_orders",
    ]
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
        except (ChainMismatch, AbiError, StateDirLocked) as exc:
            log.error("cannot start", extra={"error": str(exc)})
            return 1
        except Exception as exc:  # noqa: BLE001 - logged, retried with back-off
            log.error(
                "start-up failed, retrying",
                extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": wait},
            )
            if stop.wait(wait):
                return 0
            wait = min(wait * 2, 30.0)
    server = None
    if settings.metrics_port:
        server = MetricsServer(
            keeper.metrics, keeper.health, settings.metrics_host, settings.metrics_port
        ).start()
        log.info(
            "metrics and health listening",
            extra={"metrics": f"http://{settings.metrics_host}:{server.port}/metrics", "health": "/health"},
        )
    try:
        keeper.run(stop, max_cycles=max_cycles)
    finally:
        if server:
            server.stop()
        keeper.close()
    return 0


def _address_only(settings: KeeperSettings) -> ChecksumAddress | None:
    """The keeper's address without decrypting anything a read-only command does not need."""
    if settings.keystore_path is not None:
        try:
            address = json.loads(settings.keystore_path.read_text()).get("address")
        except (OSError, ValueError):
            return None
        return None if not address else Web3.to_checksum_address(address)
    if settings.private_key is not None or settings.private_key_file is not None:
        return Web3.to_checksum_address(load_account(settings).address)
    return settings.from_address


def _journal_path(settings: KeeperSettings, chain_id: int, sender: str) -> Path:
    return settings.state_dir / f"journal-{chain_id}-{sender.lower()}.json"


def _chain_id(settings: KeeperSettings) -> int:
    from keeper.chain import RpcPool

    if settings.chain_id is not None:
        return settings.chain_id
    return int(
        RpcPool.from_urls([str(u) for u in settings.rpc_urls], settings.rpc_timeout_s).call(
            lambda w3: w3.eth.chain_id, "eth_chainId"
        )
    )


def cmd_journal(settings: KeeperSettings, out: Any, action: str, nonce: int | None, force: bool) -> int:
    """`journal list`: the in-flight records. `journal drop --nonce N`: forget one whose nonce the chain has
    already used (with --force, any: its transaction may still land), with the keeper stopped."""
    from keeper.chain import RpcPool
    from keeper.journal import Journal, StateLock

    sender = _address_only(settings)
    if sender is None:
        sys.stderr.write("journal: no key, keystore or from_address: cannot tell whose journal\n")
        return 2
    chain_id = _chain_id(settings)
    path = _journal_path(settings, chain_id, sender)
    if action == "list":
        rows = [
            {
                "nonce": r.nonce,
                "market": r.market_id,
                "action": "cancel" if r.cancel else r.kind,
                "first_block": r.first_block,
                "sent_block": r.sent_block,
                "replacements": r.replacements,
                "max_fee_gwei": r.max_fee / 1e9,
                "tip_gwei": r.priority / 1e9,
                "tx": r.hashes[-1],
            }
            for r in sorted(Journal(path).items.values(), key=lambda r: r.nonce)
        ]
        out.write(json.dumps({"journal": str(path), "in_flight": rows}, indent=2) + "\n")
        return 0
    assert nonce is not None
    lock = StateLock(settings.state_dir / f"keeper-{chain_id}-{sender.lower()}.lock").acquire()
    try:
        journal = Journal(path)
        if nonce not in journal.items:
            sys.stderr.write(f"journal: no record for nonce {nonce} in {path}\n")
            return 1
        pool = RpcPool.from_urls([str(u) for u in settings.rpc_urls], settings.rpc_timeout_s)
        used = int(pool.call(lambda w3: w3.eth.get_transaction_count(sender, "latest"), "nonce"))
        if nonce >= used and not force:
            sys.stderr.write(
                f"journal: nonce {nonce} is not used yet (the account has sent {used}): its "
                "transaction may still land; `cancel --nonce` it, or drop it with --force\n"
            )
            return 1
        journal.drop(nonce)
        out.write(f"dropped nonce {nonce} from {path}\n")
        return 0
    finally:
        lock.release()


def cmd_cancel(settings: KeeperSettings, out: Any, nonce: int) -> int:
    """Replaces whatever holds pending nonce N with a zero-value self-transfer that outbids it, journaled so
    that the keeper, once started again, watches it land. Needs the key and the keeper stopped (its lock)."""
    from keeper.runner import Keeper

    keeper = Keeper(settings, account=load_account(settings), sources=[])
    try:
        latest, _pending = keeper.executor._counts()
        if nonce < latest:
            sys.stderr.write(f"cancel: nonce {nonce} is already used (the account has sent {latest})\n")
            return 1
        head = int(keeper.pool.call(lambda w3: w3.eth.block_number, "eth_blockNumber"))
        held = keeper.executor.journal.items.get(nonce)
        if held is not None:  # the keeper's own: re-signed as a cancel with bumped fees
            signed_before = len(held.hashes)
            held.cancel = True
            keeper.executor._replace(held, head)
            ok = len(keeper.executor.journal.items[nonce].hashes) > signed_before
        else:
            ok = keeper.executor._cancel_unknown(nonce, head)
        rec = keeper.executor.journal.items.get(nonce)
        if not ok or rec is None:
            sys.stderr.write(f"cancel: the node did not take a cancel for nonce {nonce} (see the log)\n")
            return 1
        out.write(f"nonce {nonce}: cancel {rec.hashes[-1]} sent ({rec.fees.describe()}); journaled\n")
        return 0
    finally:
        keeper.close()


def cmd_pause(settings: KeeperSettings, out: Any, pause: bool) -> int:
    """Creates or removes `state_dir/PAUSED`: a running keeper reads it every cycle and, while it exists,
    decides and simulates but sends nothing (no first sends, replacements or sweeps)."""
    flag = settings.state_dir / PAUSE_FILE
    if pause:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        flag.write_text(json.dumps({"since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        out.write(f"sending paused ({flag}); `python -m keeper unpause` resumes\n")
    else:
        flag.unlink(missing_ok=True)
        out.write("sending resumed\n")
    return 0


def main(argv: list[str] | None = None, out: Any = None) -> int:
    from keeper.logs import setup_logging

    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m keeper", description="Circuit-breaker keeper")
    parser.add_argument(
        "--config",
        "-c",
        help="YAML config (default: ./keeper.yaml if present); KEEPER_* environment variables override it",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the keeper loop")
    run.add_argument("--dry-run", action="store_true", help="decide and simulate, never send")
    run.add_argument("--max-cycles", type=int, default=None, help="stop after this many cycles")
    sub.add_parser("check", help="validate config and connectivity")
    status = sub.add_parser("status", help="print each market's state and indicators")
    status.add_argument("--json", action="store_true")
    journal = sub.add_parser("journal", help="list the in-flight journal, or drop a record")
    journal.add_argument("action", choices=("list", "drop"))
    journal.add_argument("--nonce", type=int, default=None)
    journal.add_argument("--force", action="store_true", help="drop even a nonce the chain has not used")
    cancel = sub.add_parser("cancel", help="replace pending nonce N with a zero-value self-transfer")
    cancel.add_argument("--nonce", type=int, required=True)
    sub.add_parser("pause", help="stop sending (a running keeper keeps deciding and watching)")
    sub.add_parser("unpause", help="resume sending")
    args = parser.parse_args(argv)
    if args.command == "journal" and args.action == "drop" and args.nonce is None:
        parser.error("journal drop needs --nonce N")

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
        if args.command == "journal":
            return cmd_journal(settings, out, args.action, args.nonce, args.force)
        if args.command == "cancel":
            return cmd_cancel(settings, out, args.nonce)
        if args.command in ("pause", "unpause"):
            return cmd_pause(settings, out, args.command == "pause")
        return cmd_run(settings, args.max_cycles)
    except StateDirLocked as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except ConfigError as exc:
        sys.stderr.write(f"config error: {exc}\n")
        return 2
