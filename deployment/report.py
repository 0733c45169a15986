"""Human-readable summaries of a deployment: addresses, roles, each market's state and indicators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keeper.model import State

STATE_NAMES = {member.value: name for name, member in State.__members__.items()}
WAD = 10**18


def state_name(value: Any) -> str:
    return STATE_NAMES.get(int(value), f"UNKNOWN({int(value)})")


def _pct(bps: int) -> str:
    return f"{bps / 100:.2f}%"


def market_lines(breaker: Any, market_id: int, name: str = "") -> list[str]:
    """State and indicators of one market, read from the chain."""
    ind = breaker.indicators(market_id)
    status = breaker.status(market_id)
    state = breaker.state(market_id)
    reference = f"{ind.reference / WAD:.6f}" if ind.reference_valid else "INVALID (below quorum)"
    lines = [
        f"market {market_id} {name}".rstrip(),
        f"  state            {state_name(state)}",
        f"  venue spot       {ind.spot / WAD:.6f}",
        f"  reference        {reference}",
        f"  CVD              {_pct(ind.cvd_bps)}   (trip > {_pct(breaker.params(market_id, 0))})",
        f"  R_L              {_pct(ind.rl_bps)}   (trip < {_pct(breaker.params(market_id, 2))})",
        f"  S_I              {_pct(ind.si_bps)}   (trip > {_pct(breaker.params(market_id, 4))})",
        f"  V_P              {_pct(ind.vp_bps)}   (trip > {_pct(breaker.params(market_id, 6))})",
        f"  depth baseline   {breaker.depth_baseline(market_id) / WAD:,.0f}",
        f"  halt window N    {breaker.halt_window(market_id)} s",
        f"  frozen price     {breaker.frozen_price(market_id) / WAD:.6f}",
    ]
    if int(state) == 2:
        lines.append(f"  resume after     {status.resume_after} (lapses at {status.lapse_at})")
    return lines


def print_markets(deployment: Any, config: Any, echo: Callable[[str], None] = print) -> None:
    breaker = deployment.breaker
    echo("")
    echo(f"CircuitBreaker   {breaker.address}")
    echo(f"  governance     {deployment.governance or config.governance}")
    echo(f"  guardian       {config.guardian}")
    echo(f"  keepers        {', '.join(config.keepers)}")
    for market in deployment.markets:
        echo(f"  oracle {market.market_id}       {market.oracle.address} (quorum {market.oracle.quorum()})")
        echo(f"  venue {market.market_id}        {market.venue.address}")
    for market in deployment.markets:
        echo("")
        for line in market_lines(breaker, market.market_id, market.name):
            echo(line)
    integrations = getattr(deployment, "integrations", None)
    if integrations and integrations.actions:
        echo("")
        echo("Still to do by the other protocols' governance (docs/integrations.md):")
        for action in integrations.actions:
            echo(f"  {action}")
