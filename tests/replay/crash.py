"""The short synthetic crash the replay tests run: the venue's makers leave, then its price falls 30%
below the reference and stays there, while the fair price holds at 1.0 (every liquidation it causes is
wrongful). Small pools and populations: a replay takes seconds."""

from __future__ import annotations

from typing import Any


def venue_crash(
    name: str,
    duration_s: int,
    *,
    makers_leave: tuple[int, int] = (240, 300),
    price_falls: tuple[int, int] = (300, 420),
    borrowers: int = 30,
    seed: int = 1,
    references: list[dict[str, Any]] | None = None,
    arbitrageur_usd: float | None = None,
    expect: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The scenario as a mapping: depth falls to 10% over `makers_leave` (from, to seconds), the price to
    0.70 over `price_falls`; `references` default to one peg feed at 1.0."""
    scenario: dict[str, Any] = {
        "name": name,
        "duration_s": duration_s,
        "block_time_s": 12,
        "market": {
            "collateral": {"symbol": "USDe", "decimals": 18},
            "debt": {"symbol": "USDC", "decimals": 6},
            "pool": {"liquidity_usd": 4_000_000, "fee_bps": 4},
            "lending": {"price_source": "venue"},
            "borrowers": {
                "count": borrowers,
                "seed": seed,
                "collateral_usd": {"lognormal": {"median": 20_000, "sigma": 0.5}},
                "health_factor": {"uniform": [1.03, 1.4]},
            },
        },
        "series": {
            "venue_price": {
                "points": [[0, 1.0], [price_falls[0], 1.0], [price_falls[1], 0.70], [duration_s, 0.70]]
            },
            "venue_depth_ratio": {
                "points": [[0, 1.0], [makers_leave[0], 1.0], [makers_leave[1], 0.1], [duration_s, 0.1]]
            },
            "reference": references or [{"name": "peg", "constant": 1.0}],
            "fair_price": {"constant": 1.0},
        },
    }
    if arbitrageur_usd is not None:
        scenario["actors"] = {"arbitrageur": {"capital_usd": arbitrageur_usd}}
    if expect is not None:
        scenario["expect"] = expect
    return scenario
