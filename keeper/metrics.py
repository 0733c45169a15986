"""Prometheus metrics and the health endpoint.

Each Keeper owns a `Metrics` with its own registry (several keepers can live in one process,
as in the tests). `serve` exposes `/metrics` (Prometheus text) and `/health` (JSON; 200 when
the last successful cycle is recent, 503 otherwise) on one small HTTP server thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.indicator = Gauge(
            "keeper_indicator_bps",
            "Indicator value in basis points",
            ["market", "indicator", "source"],
            registry=r,
        )
        self.index_price = Gauge(
            "keeper_index_price", "Off-chain reference index price", ["market"], registry=r
        )
        self.market_state = Gauge(
            "keeper_market_state",
            "Breaker state flag (1 NORMAL, 2 HALTED, 4 COOLDOWN, 8 AUCTION)",
            ["market"],
            registry=r,
        )
        self.decisions = Counter(
            "keeper_decisions", "Actions the policy chose", ["market", "action"], registry=r
        )
        self.tx_sent = Counter(
            "keeper_transactions_sent", "Transactions broadcast (first send)", ["action"], registry=r
        )
        self.tx_landed = Counter(
            "keeper_transactions_landed", "Transactions mined", ["action", "status"], registry=r
        )
        self.tx_replaced = Counter(
            "keeper_transactions_replaced", "Replacements with bumped fees", ["action"], registry=r
        )
        self.tx_dropped = Counter(
            "keeper_transactions_dropped", "In-flight transactions given up", ["action"], registry=r
        )
        self.sends = Counter(
            "keeper_sends",
            "First sends by outcome (sent, unconfirmed, rejected, underpriced, "
            "nonce_too_low, insufficient_funds, no_nonce)",
            ["action", "outcome"],
            registry=r,
        )
        self.relay_errors = Counter(
            "keeper_relay_errors", "Private relay failures (transport or rejected)", ["kind"], registry=r
        )
        self.gas_spent = Counter(
            "keeper_gas_spent_eth",
            "Gas paid by the keeper's mined transactions, in ETH",
            ["action"],
            registry=r,
        )
        self.last_send = Gauge(
            "keeper_last_successful_send_timestamp",
            "Unix time of the last broadcast a node accepted",
            registry=r,
        )
        self.stuck_blocks = Gauge(
            "keeper_oldest_in_flight_blocks",
            "Blocks since the oldest in-flight transaction was first sent (0: none)",
            registry=r,
        )
        self.unknown_nonces = Gauge(
            "keeper_unknown_pending_nonces",
            "Pending nonces of the keeper's account that its journal does not know",
            registry=r,
        )
        self.swept = Counter(
            "keeper_nonces_swept", "Unknown pending nonces cancelled by the sweeper", registry=r
        )
        self.sim_errors = Counter(
            "keeper_simulation_errors",
            "eth_call that could not run (an RPC error, not a revert)",
            ["action"],
            registry=r,
        )
        self.balance = Gauge("keeper_balance_eth", "The keeper account's balance", registry=r)
        self.balance_low = Gauge(
            "keeper_balance_low", "1 when the balance is below low_balance_eth", registry=r
        )
        self.head_lag_blocks = Gauge(
            "keeper_head_lag_blocks",
            "Blocks the endpoint in use is behind the best head any endpoint reported",
            registry=r,
        )
        self.endpoint_head = Gauge(
            "keeper_endpoint_head_block", "Latest block per RPC endpoint", ["endpoint"], registry=r
        )
        self.failovers = Counter(
            "keeper_rpc_failovers",
            "Endpoint switches (transport, stalled or lagging head, wrong chain)",
            ["reason"],
            registry=r,
        )
        self.sources_late = Counter(
            "keeper_sources_late", "Off-chain source answers not in by the cycle's deadline", registry=r
        )
        self.webhooks = Counter("keeper_webhooks", "Webhook notifications delivered", ["event"], registry=r)
        self.webhook_errors = Counter(
            "keeper_webhook_errors", "Webhook notifications that failed", ["kind"], registry=r
        )
        self.paused = Gauge("keeper_paused", "1 while sending is paused (`keeper pause`)", registry=r)
        self.healthy = Gauge("keeper_healthy", "1 when /health answers 200", registry=r)
        self.sim_reverts = Counter(
            "keeper_simulation_reverts", "Actions not sent because eth_call reverted", ["action"], registry=r
        )
        self.poke_failures = Gauge(
            "keeper_poke_failures_in_a_row",
            "The market's pokes that failed in a row (simulation reverted or could not run, send refused, "
            "over poke_max_fee_gwei, mined reverted); 0 once one lands or another poker's made it needless",
            ["market"],
            registry=r,
        )
        self.market_unreadable = Gauge(
            "keeper_market_unreadable_in_a_row",
            "Cycles in a row in which the market's breaker views reverted at the head and at the pending "
            "block (skipped: nothing decided for it); 0 once it reads again",
            ["market"],
            registry=r,
        )
        self.dry_run = Counter(
            "keeper_dry_run_actions", "Actions a dry run would have sent", ["action"], registry=r
        )
        self.in_flight = Gauge(
            "keeper_transactions_in_flight", "Transactions sent and not yet mined", registry=r
        )
        self.rpc_errors = Counter(
            "keeper_rpc_errors", "Transport failures per RPC endpoint", ["endpoint"], registry=r
        )
        self.head_block = Gauge("keeper_head_block", "Latest block number seen", registry=r)
        self.block_lag = Gauge(
            "keeper_block_lag_seconds", "Wall clock minus the latest block's timestamp", registry=r
        )
        self.data_rejected = Counter(
            "keeper_data_rejected", "Off-chain inputs rejected", ["market", "source"], registry=r
        )
        self.source_errors = Counter(
            "keeper_source_errors", "Sources that failed to answer", ["source"], registry=r
        )
        self.auctions_settled = Counter(
            "keeper_auctions_settled", "Reopening auctions this keeper settled", ["market"], registry=r
        )
        self.auction_price = Gauge(
            "keeper_auction_clearing_price",
            "Clearing price of the last settlement this keeper sent (debt per collateral)",
            ["market"],
            registry=r,
        )
        self.auction_volume = Gauge(
            "keeper_auction_volume", "Volume of that settlement, raw collateral units", ["market"], registry=r
        )
        self.cycle_seconds = Histogram(
            "keeper_cycle_seconds",
            "Duration of one read-compute-decide-act cycle",
            registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.cycle_errors = Counter("keeper_cycle_errors", "Cycles that raised", registry=r)
        self.last_cycle = Gauge(
            "keeper_last_successful_cycle_timestamp", "Unix time of the last good cycle", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """A sample's current value (0 if absent): handy for tests and `keeper status`."""
        v = self.registry.get_sample_value(name, labels or {})
        return 0.0 if v is None else v


class MetricsServer:
    def __init__(
        self,
        metrics: Metrics,
        health: Callable[[], tuple[bool, dict[str, Any]]],
        host: str = "127.0.0.1",
        port: int = 9_108,
    ) -> None:
        outer_metrics, outer_health = metrics, health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    body, ctype, code = outer_metrics.render(), CONTENT_TYPE_LATEST, 200
                elif self.path.startswith("/health"):
                    ok, info = outer_health()
                    body, ctype, code = json.dumps(info).encode(), "application/json", 200 if ok else 503
                else:
                    body, ctype, code = b"not found: try /metrics or /health\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="keeper-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
