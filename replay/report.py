"""World x metric tables over seeds (plain text for the terminal, Markdown for the docs) and charts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from replay import stats
from replay.engine import HALTED, Record
from replay.scenario import SeriesSpec


def venue_label(series: SeriesSpec) -> str:
    """The chart's name for the venue's price series: the data file it comes from, or the scenario's path."""
    return f"venue ({Path(series.csv).stem})" if series.csv else "venue (the scenario's price path)"


def chart(
    path: Path, title: str, guarded: Record, unguarded: Record | None = None, venue: str = "venue"
) -> None:
    """Venue, pool and reference prices over time; halts shaded; liquidations as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [p[0] / 3_600 for p in guarded.prices]
    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=110)
    ax.plot(t, [p[1] for p in guarded.prices], color="#d62728", lw=1.0, label=venue)
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


# ------------------------------------------------------------------ many seeds: medians with ranges

Runs = Mapping[str, Mapping[Any, Mapping[str, Any]]]  # world -> seed -> result

SEED_TABLES = (
    (
        "harm to borrowers",
        (
            ("wrongful loss USD", "wrongful_borrower_loss_usd"),
            ("wrongful borrowers", "wrongful_borrowers"),
            ("seized USD (gross)", "wrongful_seized_usd"),
            ("trips", "trips"),
            ("halted s", "halted_s"),
        ),
    ),
    (
        "bad debt",
        (
            ("bad debt USD", "bad_debt_usd"),
            ("price fell", "bad_debt_by_cause.price_fell"),
            ("dislocation", "bad_debt_by_cause.dislocation"),
            ("protection cost USD", "protection_cost_usd"),
        ),
    ),
)
# (line label, the world whose loss is prevented, the world that prevents it)
CONTRIBUTIONS = (
    ("breaker alone (breaker-only vs none)", "none", "breaker-only"),
    ("breaker on top of the band (composite vs band-only)", "band-only", "composite"),
    ("band alone (band-only vs none)", "none", "band-only"),
    ("composite vs none", "none", "composite"),
)
MISSING = "n/a (world not in this run)"


def money(x: float) -> str:
    """Short USD: 950, 12.3k, 4.81M (a table of ranges stays narrow)."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.3g}{suffix}"
    return f"{x:.0f}"


def with_protection_cost(runs: Runs) -> dict[str, dict[Any, dict[str, Any]]]:
    """Each result with `protection_cost_usd`: its price-fell bad debt beyond `none`'s on the same seed
    (bad debt the band or the halt added where the asset really repriced); 0 for `none` itself, None
    when `none` did not run that seed."""
    none = runs.get("none", {})
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    for world, by_seed in runs.items():
        out[world] = {}
        for seed, result in by_seed.items():
            fell = stats.metric(result, "bad_debt_by_cause.price_fell")
            base = stats.metric(none[seed], "bad_debt_by_cause.price_fell") if seed in none else None
            cost = None if fell is None or base is None else round(max(0.0, fell - base), 2)
            out[world][seed] = dict(result) | {"protection_cost_usd": cost}
    return out


def seed_summary(runs: Runs) -> dict[str, dict[str, Any]]:
    """World -> metric -> {median, p5, p95, n} over its seeds, for every metric of the tables."""
    keys = [key for _, columns in SEED_TABLES for _, key in columns]
    return {
        world: {"seeds": len(by_seed)}
        | {key: stats.spread(stats.metric(r, key) for r in by_seed.values()) for key in keys}
        for world, by_seed in runs.items()
    }


def render(title: str, headers: list[str], rows: list[list[str]]) -> str:
    """A titled plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    head = line(headers)
    return "\n".join([title, head, "-" * len(head), *(line(r) for r in rows)])


def render_markdown(title: str, headers: list[str], rows: list[list[str]]) -> str:
    """The same table in Markdown: the title in bold above it, the figure columns right-aligned."""
    return "\n".join(
        [
            f"**{title}**",
            "",
            "| " + " | ".join(headers) + " |",
            "|---|" + "---:|" * (len(headers) - 1),
            *("| " + " | ".join(r) + " |" for r in rows),
        ]
    )


def figure_format(key: str) -> Callable[[float], str]:
    return money if key.endswith("usd") or key.startswith("bad_debt") else stats.count


def seed_tables(summary: Mapping[str, Mapping[str, Any]], markdown: bool = False) -> str:
    """The world x metric tables: every figure `median [p5, p95]` over the seeds."""
    draw = render_markdown if markdown else render
    return "\n\n".join(
        draw(
            f"{title} (median [5%, 95%] over seeds)",
            ["world", "seeds", *(label for label, _ in columns)],
            [
                [world, str(row["seeds"]), *(stats.show(row[key], figure_format(key)) for _, key in columns)]
                for world, row in summary.items()
            ],
        )
        for title, columns in SEED_TABLES
    )


def contribution(
    runs: Runs, base: str, protected: str, key: str = "wrongful_borrower_loss_usd"
) -> dict[str, Any]:
    """`protected`'s effect on `base`'s `key`, paired by seed: the USD prevented and the share of `base`'s
    figure prevented (seeds where `base` lost nothing have no share). {"missing": world} when one of the
    worlds did not run."""
    for world in (base, protected):
        if world not in runs:
            return {"missing": world}
    seeds = [s for s in runs[base] if s in runs[protected]]
    prevented, shares = [], []
    for seed in seeds:
        b, p = stats.metric(runs[base][seed], key), stats.metric(runs[protected][seed], key)
        if b is None or p is None:
            continue
        prevented.append(b - p)
        if b > 0:
            shares.append(1 - p / b)
    return {
        "seeds": len(prevented),
        "prevented_usd": stats.spread(prevented),
        "prevented_share": stats.spread(shares),
    }


def contribution_key(base: str, protected: str) -> str:
    """How summary.json names a contribution."""
    return f"{protected} vs {base}"


def contributions(runs: Runs) -> dict[str, dict[str, Any]]:
    """Every contribution of CONTRIBUTIONS, by `contribution_key`, as summary.json keeps them."""
    return {
        contribution_key(base, protected): contribution(runs, base, protected)
        for _, base, protected in CONTRIBUTIONS
    }


def dollars(value: float) -> str:
    """$1,234 or -$1,234."""
    return f"{'-' if round(value) < 0 else ''}${abs(value):,.0f}"


def contribution_text(c: Mapping[str, Any] | None, base: str) -> str:
    """One contribution as a sentence: the share of `base`'s loss prevented, USD per seed, seeds with
    a loss to prevent."""
    if c is None:
        return "n/a (not in this summary)"
    if "missing" in c:
        return f"{MISSING}: {c['missing']}"
    if c["prevented_share"]["n"] == 0:
        return f"n/a ({base} lost nothing on any of {c['seeds']} seeds)"
    share, usd = c["prevented_share"], c["prevented_usd"]
    if 2 * share["n"] < c["seeds"]:
        # A share of a loss most seeds do not have is a figure of one or two seeds: dollars say it.
        return (
            f"no share: {base} lost nothing on {c['seeds'] - share['n']} of {c['seeds']} seeds; "
            f"{stats.show(usd, dollars)} per seed prevented (negative: loss it adds)"
        )
    return (
        f"{stats.show(share, '{:.1%}'.format)} of {base}'s loss "
        f"({stats.show(usd, dollars)} per seed; "
        f"{share['n']} of {c['seeds']} seeds with a loss)"
    )


CONTRIBUTIONS_TITLE = (
    "What each part prevents of the wrongful borrower loss (paired by seed; median [5%, 95%])"
)


def render_contributions(by_key: Mapping[str, Mapping[str, Any]], markdown: bool = False) -> str:
    """The breaker's own contribution, then the band's and the whole composite's: indented lines for
    the terminal, a bulleted list for the docs. `by_key` as `contributions` returns it (summary.json)."""
    texts = [
        (label, contribution_text(by_key.get(contribution_key(base, protected)), base))
        for label, base, protected in CONTRIBUTIONS
    ]
    if markdown:  # `$` escaped: two on one line would read as inline maths on GitHub
        lines = [f"- {label}: {text}".replace("$", "\\$") for label, text in texts]
        return "\n".join([f"{CONTRIBUTIONS_TITLE}:", "", *lines])
    width = max(len(label) for label, _ in texts)
    return "\n".join(
        [f"{CONTRIBUTIONS_TITLE}:", *(f"  {label.ljust(width)}  {text}" for label, text in texts)]
    )


def contribution_lines(runs: Runs) -> str:
    """The contribution lines `replay.compare` prints, from the runs."""
    return render_contributions(contributions(runs))
