"""Side-by-side tables and charts of replay results."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from replay.engine import HALTED, Record

COLUMNS = (
    ("breaker", "breaker", "{}"),
    ("wrongful", "wrongful_liquidations", "{:,}"),
    ("wrongful USD", "wrongful_liquidated_usd", "{:,.0f}"),
    ("prevented", "_prevented", "{}"),
    ("borrower loss USD", "borrower_loss_usd", "{:,.0f}"),
    ("bad debt USD", "bad_debt_usd", "{:,.0f}"),
    ("liquidations", "liquidations", "{:,}"),
    ("trips", "_trips", "{}"),
    ("halted s", "halted_s", "{:,.0f}"),
    ("trip latency s", "trip_latency_s", "{}"),
    ("LP change USD", "lp_value_change_usd", "{:,.0f}"),
)


def prevented_share(result: Mapping[str, Any], none: Mapping[str, Any] | None) -> str:
    if none is None or result["breaker"] == "none":
        return "-"
    base = none["wrongful_liquidated_usd"]
    if base <= 0:
        return "n/a"
    share = round(1 - result["wrongful_liquidated_usd"] / base, 3) + 0.0  # + 0.0: no "-0.0%" for cents
    return f"{share:.1%}"


def _rows(results: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    none = results.get("none")
    rows = []
    for result in results.values():
        row = []
        for _, key, fmt in COLUMNS:
            if key == "_prevented":
                row.append(prevented_share(result, none))
            elif key == "_trips":
                row.append(str(len(result["trips"])))
            else:
                value = result[key]
                row.append("-" if value is None else fmt.format(value))
        rows.append(row)
    return rows


def markdown_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """The same rows as `table`, as a Markdown table (docs generated from result JSON)."""
    headers = [c[0] for c in COLUMNS]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(results)]
    return "\n".join(lines) + "\n"


def table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per breaker, in the order given; `prevented` is wrongful USD avoided relative to `none`."""
    rows = _rows(results)
    headers = [c[0] for c in COLUMNS]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out = [line, "-" * len(line)]
    for r in rows:
        out.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(out)


def chart(path: Path, title: str, guarded: Record, unguarded: Record | None = None) -> None:
    """Venue, pool and reference prices over time; halts shaded; liquidations as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [p[0] / 3_600 for p in guarded.prices]
    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=110)
    ax.plot(
        t, [p[1] for p in guarded.prices], color="#d62728", lw=1.0, label="venue (Binance 1-minute close)"
    )
    ax.plot(t, [p[3] for p in guarded.prices], color="#2ca02c", lw=1.2, label="reference oracle")
    ax.plot(t, [p[2] for p in guarded.prices], color="#1f77b4", lw=1.4, label="guarded pool (composite)")
    if unguarded is not None:
        ax.plot(
            [p[0] / 3_600 for p in unguarded.prices],
            [p[2] for p in unguarded.prices],
            color="#ff7f0e",
            lw=0.9,
            ls="--",
            label="unprotected pool (none)",
        )
    start = None
    for ts, state in guarded.states + [(guarded.states[-1][0] + 1, 0)] if guarded.states else []:
        if state == HALTED and start is None:
            start = ts
        elif state != HALTED and start is not None:
            ax.axvspan(start / 3_600, ts / 3_600, color="#999999", alpha=0.25, lw=0)
            start = None
    ax.axvspan(0, 0, color="#999999", alpha=0.25, label="breaker HALTED")
    low = min(p[1] for p in guarded.prices)
    for record, marker, color, name in (
        (unguarded, "v", "#ff7f0e", "liquidation (none)"),
        (guarded, "x", "#1f77b4", "liquidation (composite)"),
    ):
        if record is None or not record.liquidations:
            continue
        ax.scatter(
            [liq.t / 3_600 for liq in record.liquidations],
            [low * 0.97] * len(record.liquidations),
            marker=marker,
            color=color,
            s=18,
            label=f"{name}: {len(record.liquidations)}",
        )
    ax.set_xlabel("hours from scenario start")
    ax.set_ylabel("price (debt per collateral)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
