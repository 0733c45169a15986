"""Centralised exchanges through ccxt: order books, tickers, open interest (unified ccxt shapes).

`RecordedExchange` answers the same three calls from recorded JSON (tests, demos, replays of a
captured moment): no network.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from keeper.config import CexVenue, MarketSettings
from keeper.indicators import OpenInterest, OrderBook, Quote
from keeper.sources.base import Observations, merge

log = logging.getLogger("keeper.sources.cex")


def make_exchange(exchange_id: str, timeout_s: float = 5.0) -> Any:
    """A public-data ccxt client (no API keys: the keeper only reads)."""
    import ccxt

    cls = getattr(ccxt, exchange_id, None)
    if cls is None:
        raise ValueError(f"unknown ccxt exchange {exchange_id!r}")
    return cls({"enableRateLimit": True, "timeout": int(timeout_s * 1000)})


class RecordedExchange:
    """A ccxt look-alike serving recorded unified JSON.

    File shape: {"id": "binance", "tickers": {symbol: ticker}, "order_books": {symbol: book},
    "open_interest": {symbol: oi}}. With `restamp`, every answer is re-dated to `restamp()` (ms),
    as if it had just been fetched.
    """

    def __init__(
        self, data: Mapping[str, Any] | Path | str, restamp: Callable[[], float] | None = None
    ) -> None:
        self.data: dict[str, Any] = (
            json.loads(Path(data).read_text()) if isinstance(data, (str, Path)) else dict(data)
        )
        self.id = self.data.get("id", "recorded")
        self.restamp = restamp
        self.calls: list[tuple[str, str]] = []

    def _get(self, kind: str, symbol: str) -> dict[str, Any]:
        import ccxt

        self.calls.append((kind, symbol))
        try:
            item = copy.deepcopy(self.data[kind][symbol])
        except KeyError:
            raise ccxt.BadSymbol(f"{self.id} has no recorded {kind} for {symbol}") from None
        if isinstance(item, dict) and item.get("error") == "network":
            raise ccxt.NetworkError(f"{self.id}: recorded network error")
        if self.restamp is not None:
            ms = int(self.restamp() * 1000)
            item["timestamp"] = ms
            item["datetime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ms / 1000))
        return item

    def fetch_ticker(self, symbol: str) -> dict[str, Any]:
        return self._get("tickers", symbol)

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        book = self._get("order_books", symbol)
        if limit:
            book["bids"], book["asks"] = book["bids"][:limit], book["asks"][:limit]
        return book

    def fetch_open_interest(self, symbol: str) -> dict[str, Any]:
        return self._get("open_interest", symbol)

    def load_markets(self) -> dict[str, Any]:
        """The symbols recorded (ccxt's `load_markets` maps symbol -> market)."""
        symbols = {s for kind in ("tickers", "order_books", "open_interest") for s in self.data.get(kind, {})}
        return {s: {"symbol": s} for s in sorted(symbols)}


def ticker_price(t: Mapping[str, Any]) -> float | None:
    bid, ask = t.get("bid"), t.get("ask")
    if bid and ask:
        return (float(bid) + float(ask)) / 2
    last = t.get("last") or t.get("close")
    return None if last is None else float(last)


def _seconds(ms: Any) -> float | None:
    return None if ms is None else float(ms) / 1000.0


class CcxtSource:
    name = "cex"
    background = True  # network I/O with timeouts and rate limits: on-chain rules never wait for it

    def __init__(
        self,
        markets: Sequence[MarketSettings],
        exchanges: Mapping[str, Any] | None = None,
        book_limit: int = 100,
        timeout_s: float = 5.0,
        on_error: Callable[[str], None] = lambda source: None,
    ) -> None:
        self.markets = {m.id: m for m in markets}
        self.exchanges: dict[str, Any] = dict(exchanges or {})
        self.book_limit = book_limit
        self.timeout_s = timeout_s
        self.on_error = on_error

    def _exchange(self, exchange_id: str) -> Any:
        if exchange_id not in self.exchanges:
            self.exchanges[exchange_id] = make_exchange(exchange_id, self.timeout_s)
        return self.exchanges[exchange_id]

    def _venue(self, v: CexVenue, obs: Observations) -> None:
        import ccxt

        label = f"{v.exchange}:{v.symbol}"
        ex = self._exchange(v.exchange)

        def attempt(what: str, fn: Callable[[], Any]) -> Any:
            try:
                return fn()
            except (ccxt.BaseError, OSError, ValueError, KeyError, TypeError) as exc:
                obs.errors.append(f"{label} {what}: {type(exc).__name__}: {exc}")
                self.on_error(v.exchange)
                log.warning(
                    "cex source failed", extra={"source": label, "what": what, "error": str(exc)[:200]}
                )
                return None

        ticker = attempt("ticker", lambda: ex.fetch_ticker(v.symbol))
        if ticker is not None:
            price = ticker_price(ticker)
            if price is not None:
                obs.quotes.append(
                    Quote(label, price, _seconds(ticker.get("timestamp")) or float("nan"), v.weight)
                )
        raw_book = attempt("order book", lambda: ex.fetch_order_book(v.symbol, self.book_limit))
        # A book that does not parse is rejected like a failed call (logged, in `errors`, counted per
        # exchange) and drops this exchange for the cycle: its ticker is not trusted either. The other venues
        # still count.
        book = (
            None
            if raw_book is None
            else attempt("malformed order book", lambda: OrderBook.from_ccxt(raw_book, label))
        )
        if raw_book is not None and book is None:
            obs.quotes.clear()
            return
        if book is not None:
            obs.books.append(book)
            if v.calm_depth_usd:
                obs.calm_depth_usd = (obs.calm_depth_usd or 0.0) + v.calm_depth_usd
        if v.perp_symbol:
            plabel = f"{v.exchange}:{v.perp_symbol}"
            perp = attempt("perp ticker", lambda: ex.fetch_ticker(v.perp_symbol))
            if perp is not None and (p := ticker_price(perp)) is not None:
                obs.perp_quotes.append(
                    Quote(plabel, p, _seconds(perp.get("timestamp")) or float("nan"), v.weight)
                )
            oi = attempt("open interest", lambda: ex.fetch_open_interest(v.perp_symbol))
            if oi is not None:
                value = oi.get("openInterestValue")
                if value is None and oi.get("openInterestAmount") is not None and perp is not None:
                    value = float(oi["openInterestAmount"]) * (ticker_price(perp) or float("nan"))
                if value is not None:
                    obs.open_interest.append(
                        OpenInterest(plabel, float(value), _seconds(oi.get("timestamp")) or float("nan"))
                    )

    def collect(self, market_ids: Sequence[int], now: float) -> dict[int, Observations]:
        """One thread per exchange (its venues in turn, so each ccxt client stays single-threaded)."""
        parts: dict[tuple[int, int], Observations] = {}
        by_exchange: dict[str, list[tuple[int, int, CexVenue]]] = {}
        for mid in market_ids:
            market = self.markets.get(mid)
            for i, venue in enumerate(market.cex if market else []):
                by_exchange.setdefault(venue.exchange, []).append((mid, i, venue))

        def run(jobs: list[tuple[int, int, CexVenue]]) -> None:
            for mid, i, venue in jobs:
                obs = parts[(mid, i)] = Observations()
                try:
                    self._venue(venue, obs)
                except ValueError as exc:  # unknown exchange id
                    obs.errors.append(str(exc))

        if len(by_exchange) <= 1:
            for jobs in by_exchange.values():
                run(jobs)
        else:
            with ThreadPoolExecutor(max_workers=min(8, len(by_exchange))) as pool:
                list(pool.map(run, by_exchange.values()))
        out: dict[int, Observations] = {}
        for mid in market_ids:
            market = self.markets.get(mid)
            if market is not None and market.cex:
                out[mid] = merge([parts[(mid, i)] for i in range(len(market.cex))])
        return out
