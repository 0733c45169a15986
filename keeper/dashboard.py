"""The Grafana dashboard of ops/grafana/keeper-dashboard.json, built from the keeper's real metric names.

    python -m keeper.dashboard > ops/grafana/keeper-dashboard.json

`metric_names()` lists every series name the keeper exports (counters as `_total`, histograms as
`_bucket`/`_sum`/`_count`); building the dashboard refuses a panel whose query names anything else, and a
test checks that the committed JSON equals a fresh build, so a renamed metric cannot leave a blank panel.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from keeper.metrics import Metrics

METRIC = re.compile(r"\bkeeper_[a-z0-9_]+\b")

# (row, title, unit, [queries]): one panel each, in order.
PANELS: list[tuple[str, str, str, list[str]]] = [
    ("Health", "Healthy (/health) and paused", "bool", ["keeper_healthy", "keeper_paused"]),
    ("Health", "Seconds since the last good cycle", "s", ["time() - keeper_last_successful_cycle_timestamp"]),
    (
        "Health",
        "Cycle duration p50 / p99",
        "s",
        [
            "histogram_quantile(0.5, sum by (le) (rate(keeper_cycle_seconds_bucket[5m])))",
            "histogram_quantile(0.99, sum by (le) (rate(keeper_cycle_seconds_bucket[5m])))",
        ],
    ),
    ("Health", "Cycle errors / min", "short", ["rate(keeper_cycle_errors_total[5m]) * 60"]),
    ("Chain", "Head block per endpoint", "short", ["keeper_endpoint_head_block", "keeper_head_block"]),
    ("Chain", "Head lag (blocks behind the best endpoint)", "short", ["keeper_head_lag_blocks"]),
    ("Chain", "Latest block age", "s", ["keeper_block_lag_seconds"]),
    ("Chain", "Markets unreadable, cycles in a row", "short", ["keeper_market_unreadable_in_a_row"]),
    (
        "Chain",
        "RPC errors / failovers",
        "short",
        [
            "sum by (endpoint) (rate(keeper_rpc_errors_total[5m]))",
            "sum by (reason) (increase(keeper_rpc_failovers_total[15m]))",
        ],
    ),
    (
        "Transactions",
        "Sends by outcome; first sends by action",
        "short",
        [
            "sum by (outcome) (increase(keeper_sends_total[15m]))",
            "sum by (action) (increase(keeper_transactions_sent_total[15m]))",
        ],
    ),
    (
        "Transactions",
        "Mined by status",
        "short",
        ["sum by (action, status) (increase(keeper_transactions_landed_total[1h]))"],
    ),
    (
        "Transactions",
        "In flight / oldest (blocks)",
        "short",
        ["keeper_transactions_in_flight", "keeper_oldest_in_flight_blocks"],
    ),
    (
        "Transactions",
        "Replacements, drops, sweeps",
        "short",
        [
            "sum(increase(keeper_transactions_replaced_total[1h]))",
            "sum(increase(keeper_transactions_dropped_total[1h]))",
            "increase(keeper_nonces_swept_total[1h])",
            "keeper_unknown_pending_nonces",
        ],
    ),
    (
        "Transactions",
        "Simulation reverts / RPC errors",
        "short",
        [
            "sum by (action) (increase(keeper_simulation_reverts_total[15m]))",
            "sum by (action) (increase(keeper_simulation_errors_total[15m]))",
        ],
    ),
    ("Transactions", "Pokes failed in a row, by market", "short", ["keeper_poke_failures_in_a_row"]),
    ("Transactions", "Relay errors", "short", ["sum by (kind) (increase(keeper_relay_errors_total[15m]))"]),
    ("Funds", "Balance (ETH) and low flag", "short", ["keeper_balance_eth", "keeper_balance_low"]),
    (
        "Funds",
        "Gas spent (ETH / day)",
        "short",
        ["sum by (action) (increase(keeper_gas_spent_eth_total[1d]))"],
    ),
    (
        "Funds",
        "Seconds since the last accepted send",
        "s",
        ["time() - keeper_last_successful_send_timestamp"],
    ),
    ("Markets", "Market state (1 NORMAL, 2 HALTED, 4 COOLDOWN, 8 AUCTION)", "short", ["keeper_market_state"]),
    ("Markets", "Indicators (bps)", "short", ["keeper_indicator_bps"]),
    ("Markets", "Index price", "short", ["keeper_index_price"]),
    ("Markets", "Decisions", "short", ["sum by (market, action) (increase(keeper_decisions_total[1h]))"]),
    ("Markets", "Dry-run actions", "short", ["sum by (action) (increase(keeper_dry_run_actions_total[1h]))"]),
    (
        "Markets",
        "Auctions settled, clearing price, volume",
        "short",
        [
            "increase(keeper_auctions_settled_total[1d])",
            "keeper_auction_clearing_price",
            "keeper_auction_volume",
        ],
    ),
    (
        "Data",
        "Off-chain data rejected / source errors / late",
        "short",
        [
            "sum by (market, source) (increase(keeper_data_rejected_total[15m]))",
            "sum by (source) (increase(keeper_source_errors_total[15m]))",
            "increase(keeper_sources_late_total[15m])",
        ],
    ),
    (
        "Data",
        "Webhooks delivered / failed",
        "short",
        [
            "sum by (event) (increase(keeper_webhooks_total[1d]))",
            "sum by (kind) (increase(keeper_webhook_errors_total[1d]))",
        ],
    ),
]


def metric_names(metrics: Metrics | None = None) -> set[str]:
    """Every series name the keeper exports."""
    metrics = metrics or Metrics()
    names: set[str] = set()
    for family in metrics.registry.collect():
        kind, name = family.type, family.name
        if kind == "counter":
            names |= {f"{name}_total", f"{name}_created"}
        elif kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
        else:
            names.add(name)
    return names


def names_in(expr: str) -> set[str]:
    return set(METRIC.findall(expr))


def build() -> dict[str, Any]:
    known = metric_names()
    panels: list[dict[str, Any]] = []
    y = 0
    row = ""
    x = 0
    for i, (row_title, title, unit, queries) in enumerate(PANELS):
        unknown = sorted(n for q in queries for n in names_in(q) if n not in known)
        if unknown:
            raise ValueError(
                f"panel {title!r} queries metrics the keeper does not export: {', '.join(unknown)}"
            )
        if row_title != row:
            if x:
                y += 8
            panels.append(
                {
                    "type": "row",
                    "title": row_title,
                    "collapsed": False,
                    "id": 1000 + i,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y += 1
            row, x = row_title, 0
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {
                        "refId": chr(ord("A") + k),
                        "expr": q,
                        "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    }
                    for k, q in enumerate(queries)
                ],
            }
        )
        x += 8
        if x >= 24:
            x, y = 0, y + 8
    return {
        "title": "Circuit-breaker keeper",
        "uid": "circuit-breaker-keeper",
        "schemaVersion": 39,
        "version": 1,
        "tags": ["keeper", "circuit-breaker"],
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}
            ]
        },
        "annotations": {"list": []},
        "editable": True,
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
