"""Builds the cost-side scenarios' series from the Binance USDe/USDT 1-minute closes of 10 October 2025.

`python data/cost-side/build.py` rewrites usde_repriced_1m.csv (README.md in this folder says why).
A true repricing, not a venue failure: the price follows Binance's real closes down, and from the first
close below FLOOR on it never comes back above FLOOR (the wick below still trades; the recovery after
22:00 does not happen). `repriced` is that path; `repriced_lagged` is the same path LAG_S later, the
on-chain market following the repricing a little behind the exchange.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "oct10-2025" / "usde_usdt_binance_1m_20251010T2000_20251011T0200.csv"
TARGET = HERE / "usde_repriced_1m.csv"
FLOOR = 0.80  # the level USDe reprices to: Binance first closed below it at 21:39
LAG_S = 120  # how far the on-chain reference runs behind the exchange


def repriced(closes: list[float]) -> list[float]:
    """Each close, capped at FLOOR from the first close below FLOOR on."""
    out, below = [], False
    for close in closes:
        below = below or close < FLOOR
        out.append(min(close, FLOOR) if below else close)
    return out


def main() -> None:
    with SOURCE.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    times = [datetime.fromisoformat(r["time_utc"]) for r in rows]
    path = repriced([float(r["close"]) for r in rows])
    step = int((times[1] - times[0]).total_seconds())
    lag = LAG_S // step
    with TARGET.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time_utc", "repriced", "repriced_lagged"])
        for i, t in enumerate(times):
            writer.writerow(
                [t.strftime("%Y-%m-%d %H:%M:%S"), f"{path[i]:.4f}", f"{path[max(0, i - lag)]:.4f}"]
            )
    assert times[-1] - times[0] == timedelta(hours=6)


if __name__ == "__main__":
    main()
