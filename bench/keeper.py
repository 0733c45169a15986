"""Keeper benchmarks (BENCH.md keeper.* keys).

- keeper.indicators_1000_markets_ms: CVD, R_L, S_I, V_P, LCE (and basis) for 1,000 markets from
  in-memory inputs (3 quotes, 2 recorded order books, open interest, 1,000 lending positions and
  300 price points per market), all markets at once (`compute_batch` over the stacked arrays);
  median of 15 passes. In the same run: `_stack_ms` (stacking per-market inputs into the batch) and
  `_per_market_ms` (the per-market reference, `compute_market` in a loop).
- keeper.decision_ms_20_markets: one keeper cycle (batched chain read, CEX recordings, indicators,
  decide) for 20 calm markets on anvil; median of 15 cycles.
- keeper.rss_mb: peak resident memory of `python -m keeper run` doing 20 such cycles (its own
  process, measured with wait4, so ape and this script do not count).
- keeper.next_block_inclusion_rate / keeper.inclusion_trials: rule-B trips sent by the keeper
  (default fee policy) into a pool of >= 120 competing transfers whose gas exceeds the block gas
  limit (1M), fees drawn from a spread (devchain.Crowd); share mined in the very next block.
  keeper.next_block_inclusion_rate_no_urgency is the control in the same run: the same crowd and
  a keeper paying the median tip, no urgency, max fee 1.25 x base + tip.
- keeper.unwedge_blocks: a zero-tip transaction signed with the keeper's key sits at its next nonce (a
  journal lost, the key used elsewhere) on a congested chain (automine off, 1M gas blocks, three full blocks
  of history, 60 better-paying transfers a block); the venue crashes in the same block, which is full, so
  the parked transaction is still pending when the keeper first looks (checked). Blocks mined from then until
  the trip lands (rule A: arm, then trip), the keeper cycling once a block; median over UNWEDGE_TRIALS
  markets. Goal <= 3. Without the sweeper the arm queues behind the stuck nonce and nothing lands (reported as
  the cap, UNWEDGE_MAX_BLOCKS).

The keeper uses web3.py only, so it runs against its own anvil (started here on a free port).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import yaml

from devchain import Anvil, Crowd, deploy_system, dev_key
from keeper import indicators as I
from keeper.config import load_account, load_settings
from keeper.metrics import Metrics
from keeper.runner import Keeper
from keeper.sources import CcxtSource, RecordedExchange

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "keeper" / "fixtures"
GWEI = 10**9
MARKETS = 20
TRIALS = 20  # BENCH.md: at least 20 trials
UNWEDGE_TRIALS = 5
UNWEDGE_MAX_BLOCKS = 20
COMPETITORS = 120
GAS_LIMIT = 1_000_000


def _recorded(name: str) -> RecordedExchange:
    return RecordedExchange(FIXTURES / f"{name}.json", restamp=time.time)


def _market_inputs(markets: int, now: float) -> list[I.MarketInputs]:
    rng = np.random.default_rng(1)
    books = [
        I.OrderBook.from_ccxt(_recorded(n).fetch_order_book("USDE/USDT"), n)
        for n in ("binance_usde_calm", "bybit_usde_calm")
    ]
    books = [I.OrderBook(b.source, b.bids, b.asks, now) for b in books]
    inputs = []
    for _ in range(markets):
        drift = 1 + rng.normal(0, 0.002)
        coll = rng.lognormal(10, 1.2, 1_000)
        inputs.append(
            I.MarketInputs(
                now=now,
                venue_price=drift,
                venue_depth_usd=8e6,
                quotes=[I.Quote(f"s{k}", drift * (1 + rng.normal(0, 1e-4)), now - 2) for k in range(3)],
                books=books,
                calm_depth_usd=7e6,
                perp_quotes=[I.Quote("perp", drift * 1.0001, now - 1)],
                open_interest=[I.OpenInterest("oi", 3e8, now - 5)],
                positions=I.Positions(coll, coll * rng.uniform(0.5, 0.88, 1_000), np.full(1_000, 9_000.0)),
                price_times=np.linspace(now - 600, now, 300),
                price_history=drift * (1 + rng.normal(0, 1e-3, 300)),
            )
        )
    return inputs


def _median_ms(fn: Any, passes: int) -> float:
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(median(times), 1)


def indicators_1000_markets(markets: int = 1_000, passes: int = 15) -> dict[str, float]:
    """The five indicators (and basis) for `markets` markets, three ways, in the same run.

    - keeper.indicators_1000_markets_ms: `compute_batch` on the markets stacked as arrays
      (`MarketBatch`: books (markets, books, levels), history (markets, samples), the 1,000,000
      positions concatenated); the figure BENCH.md asks for.
    - keeper.indicators_1000_markets_stack_ms: building that batch from the per-market inputs
      (`MarketBatch.from_inputs`), for a caller that holds `MarketInputs` objects.
    - keeper.indicators_1000_markets_per_market_ms: `compute_market` market by market (the
      reference, and what was measured before the batch existed).
    The batch's answer is checked against the reference's before anything is timed.
    """
    now = 1_760_126_400.0
    inputs = _market_inputs(markets, now)
    cfg = I.Settings()
    batch = I.MarketBatch.from_inputs(inputs)
    reference = [I.compute_market(inp, cfg) for inp in inputs]
    out = I.compute_batch(batch, cfg)
    for key in ("index_price", "cvd_bps", "rl_bps", "si_bps", "vp_bps", "lce_bps", "basis_bps"):
        want = np.array([np.nan if getattr(r, key) is None else getattr(r, key) for r in reference])
        np.testing.assert_allclose(getattr(out, key), want, rtol=1e-9, err_msg=key)
    figures = {
        "keeper.indicators_1000_markets_ms": _median_ms(lambda: I.compute_batch(batch, cfg), passes),
        "keeper.indicators_1000_markets_stack_ms": _median_ms(
            lambda: I.MarketBatch.from_inputs(inputs), passes
        ),
        "keeper.indicators_1000_markets_per_market_ms": _median_ms(
            lambda: [I.compute_market(inp, cfg) for inp in inputs], max(5, passes // 3)
        ),
    }
    print("  ".join(f"{k.removeprefix('keeper.')} {v}" for k, v in figures.items()), flush=True)
    return figures


def indicators_1000_markets_ms(markets: int = 1_000, passes: int = 15) -> float:
    return indicators_1000_markets(markets, passes)["keeper.indicators_1000_markets_ms"]


def _settings(node: Anvil, system: Any, state: Path, **extra: Any):
    values = {
        "breaker": system.breaker.address,
        "rpc_urls": [node.url],
        "private_key": dev_key(1),
        "metrics_port": 0,
        "state_dir": str(state),
        "offchain_deadline_s": 30.0,  # recordings: wait
        "markets": [
            {
                "id": m.market_id,
                "name": f"m{m.market_id}",
                "cex": [
                    {
                        "exchange": "binance",
                        "symbol": "USDE/USDT",
                        "perp_symbol": "USDE/USDT:USDT",
                        "calm_depth_usd": 4.2e6,
                    },
                    {
                        "exchange": "bybit",
                        "symbol": "USDE/USDT",
                        "perp_symbol": "USDE/USDT:USDT",
                        "calm_depth_usd": 2.6e6,
                    },
                ],
            }
            for m in system.markets
        ],
    }
    values.update(extra)
    return load_settings(None, **values)


def decision_ms_20_markets(tmp: Path) -> float:
    with Anvil() as node:
        system = deploy_system(node.w3, markets=MARKETS)
        settings = _settings(node, system, tmp / "decide")
        source = CcxtSource(
            settings.markets,
            exchanges={"binance": _recorded("binance_usde_calm"), "bybit": _recorded("bybit_usde_calm")},
        )
        keeper = Keeper(settings, account=load_account(settings), sources=[source], metrics=Metrics())
        keeper.cycle()  # warm: parameters and roles are read once, then cached
        times = []
        for _ in range(15):
            report = keeper.cycle()
            assert all(m.action is None for m in report.markets)
            times.append(report.seconds * 1000)
        return round(median(times), 1)


def rss_mb(tmp: Path) -> float:
    with Anvil() as node:
        system = deploy_system(node.w3, markets=MARKETS)
        config = tmp / "rss.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "breaker": system.breaker.address,
                    "rpc_urls": [node.url],
                    "metrics_port": 0,
                    "state_dir": str(tmp / "rss"),
                    "poll_interval_s": 0.01,
                    "idle_cycle_s": 0.01,
                    "log_level": "WARNING",
                    "markets": [{"id": m.market_id, "name": f"m{m.market_id}"} for m in system.markets],
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPER_")}
        env["KEEPER_PRIVATE_KEY"] = dev_key(1)
        proc = subprocess.Popen(
            [sys.executable, "-m", "keeper", "--config", str(config), "run", "--max-cycles", "20"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"keeper exited {proc.returncode}: {proc.stderr.read().decode()[-1000:]}")
        return round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB


def inclusion(tmp: Path, trials: int = TRIALS, fees: dict[str, Any] | None = None) -> tuple[float, int]:
    with Anvil(accounts=4) as node:
        system = deploy_system(node.w3, markets=trials)
        settings = _settings(
            node,
            system,
            tmp / f"inclusion{id(fees)}",
            fees=fees or {},
            markets=[
                {
                    "id": m.market_id,
                    "name": f"m{m.market_id}",
                    "cex": [{"exchange": "binance", "symbol": "USDE/USDT", "perp_symbol": "USDE/USDT:USDT"}],
                }
                for m in system.markets
            ],
        )
        source = CcxtSource(settings.markets, exchanges={"binance": _recorded("binance_usde_crash")})
        keeper = Keeper(settings, account=load_account(settings), sources=[source], metrics=Metrics())
        node.set_automine(False)
        node.rpc("evm_setBlockGasLimit", [hex(GAS_LIMIT)])
        crowd = Crowd(node, seed=11)
        base = GWEI
        for _ in range(3):  # a congested fee history before the first trial
            node.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
            crowd.send(60, base)
            node.mine()
        hits = 0
        for trial in range(trials):
            # Every trial starts from the same base fee: three full blocks a trial would otherwise compound it
            # (+12.5% a block) past the fee cap within 20 trials, and later trials would measure the cap.
            node.rpc("anvil_setNextBlockBaseFeePerGas", [hex(GWEI)])
            venue = system.markets[trial].venue
            for fn in (venue.functions.set_price(85 * 10**16), venue.functions.set_slippage_bps(800)):
                fn.transact(
                    {
                        "from": system.anyone,
                        "gas": 100_000,
                        "maxFeePerGas": 1_000 * GWEI,
                        "maxPriorityFeePerGas": 100 * GWEI,
                    }
                )
            node.mine()  # the crash itself (priced to land at once)
            crowd.send(COMPETITORS, node.w3.eth.get_block("latest").baseFeePerGas)
            node.mine()  # a congested block that opens on it: the breaker reads a venue as its block opened
            base = node.w3.eth.get_block("latest").baseFeePerGas
            crowd.send(COMPETITORS, base)
            waiting = int(node.rpc("txpool_status")["pending"], 16)
            assert waiting >= 100 and waiting * 21_000 > GAS_LIMIT, waiting
            report = keeper.cycle()
            sent = [m for m in report.markets if m.outcome and m.outcome.status == "sent"]
            assert [m.action.kind.value for m in sent] == ["trip_attested"], [
                m.outcome for m in report.markets
            ]
            node.mine()
            tx = node.w3.eth.get_transaction(sent[0].outcome.tx_hash)
            if tx.blockNumber == report.block + 1:
                hits += node.w3.eth.get_transaction_receipt(tx.hash).status == 1
            for _ in range(40):  # let the trip land (if it missed) before the next trial
                keeper.executor.tick(node.w3.eth.block_number)
                if not keeper.executor.journal.items:
                    break
                node.mine()
        return round(hits / trials, 3), trials


def _park_at_nonce(node: Anvil, key: str, nonce: int) -> str:
    from eth_account import Account

    acct = Account.from_key(key)
    base = node.w3.eth.get_block("latest").baseFeePerGas
    signed = acct.sign_transaction(
        {
            "to": acct.address,
            "value": 0,
            "gas": 21_000,
            "nonce": nonce,
            "chainId": node.w3.eth.chain_id,
            "type": 2,
            "maxFeePerGas": 4 * base,
            "maxPriorityFeePerGas": 0,
        }
    )
    return node.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()


def unwedge_blocks(tmp: Path, trials: int = UNWEDGE_TRIALS) -> tuple[float, list[int]]:
    """Blocks from a stuck unknown nonce (and the crash) to the trip landing, per trial; their median."""
    with Anvil(accounts=4) as node:
        system = deploy_system(node.w3, markets=trials)
        settings = _settings(
            node,
            system,
            tmp / "unwedge",
            markets=[{"id": m.market_id, "name": f"m{m.market_id}"} for m in system.markets],
        )
        keeper = Keeper(settings, account=load_account(settings), sources=[], metrics=Metrics())
        node.set_automine(False)
        node.rpc("evm_setBlockGasLimit", [hex(GAS_LIMIT)])
        crowd = Crowd(node, seed=13, tip_median_gwei=5)
        for _ in range(3):  # a congested fee history before the first trial
            crowd.send(60, node.w3.eth.get_block("latest").baseFeePerGas)
            node.mine()
        me = keeper.sender
        blocks: list[int] = []
        try:
            for trial in range(trials):
                venue = system.markets[trial].venue
                for fn in (venue.functions.set_price(9 * 10**17), venue.functions.set_depth(8 * 10**23)):
                    fn.transact(
                        {
                            "from": system.anyone,
                            "gas": 100_000,
                            "maxFeePerGas": 1_000 * GWEI,
                            "maxPriorityFeePerGas": 100 * GWEI,
                        }
                    )
                parked = _park_at_nonce(node, dev_key(1), node.w3.eth.get_transaction_count(me, "pending"))
                crowd.send(60, node.w3.eth.get_block("latest").baseFeePerGas)
                node.mine()  # the crash lands in a full block; the parked transaction waits
                crowd.send(60, node.w3.eth.get_block("latest").baseFeePerGas)
                node.mine()  # a full block that opens on the crash: from here the crash is trip evidence
                assert node.w3.eth.get_transaction(parked).blockNumber is None, (
                    "the parked nonce must be stuck"
                )
                for mined in range(1, UNWEDGE_MAX_BLOCKS + 1):  # noqa: B007 (read after the loop)
                    keeper.cycle()
                    crowd.send(60, node.w3.eth.get_block("latest").baseFeePerGas)
                    node.mine()
                    if system.breaker.functions.state(trial).call() == 2:  # HALTED
                        break
                blocks.append(mined)
                for _ in range(40):  # settle the journal before the next trial
                    keeper.executor.tick(node.w3.eth.block_number)
                    if not keeper.executor.journal.items:
                        break
                    node.mine()
        finally:
            keeper.close()
        return float(median(blocks)), blocks


def run(project: Any = None, accounts: Any = None) -> dict[str, float]:
    """Keeper figures; `project` and `accounts` (ape) are unused: the keeper runs on web3.py alone."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rate, trials = inclusion(tmp)
        unwedge, per_trial = unwedge_blocks(tmp)
        print(f"  unwedge_blocks per trial: {per_trial}", flush=True)
        # Control, same crowd (same seed): a keeper that pays the median tip with no urgency.
        control, _ = inclusion(
            tmp, fees={"reward_percentile": 50, "urgency_trip": 1.0, "base_fee_multiplier": 1.25}
        )
        return {
            "keeper.next_block_inclusion_rate_no_urgency": control,
            **indicators_1000_markets(),
            "keeper.decision_ms_20_markets": decision_ms_20_markets(tmp),
            "keeper.rss_mb": rss_mb(tmp),
            "keeper.next_block_inclusion_rate": rate,
            "keeper.inclusion_trials": trials,
            "keeper.unwedge_blocks": unwedge,
            "keeper.unwedge_blocks_max": float(max(per_trial)),
        }


if __name__ == "__main__":
    import json

    if sys.argv[1:] == ["indicators"]:  # `python -m bench.keeper indicators`: the in-memory figures only
        print(json.dumps(indicators_1000_markets(), indent=2))
    elif sys.argv[1:] == ["unwedge"]:  # `python -m bench.keeper unwedge`: the stuck-nonce figure only
        with tempfile.TemporaryDirectory() as d:
            value, per_trial = unwedge_blocks(Path(d))
        print(json.dumps({"keeper.unwedge_blocks": value, "per_trial": per_trial}, indent=2))
    else:
        print(json.dumps(run(), indent=2))
