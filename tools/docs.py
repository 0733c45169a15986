"""Regenerate the parts of the docs that are data, so they cannot drift from their source.

    .venv/bin/python tools/docs.py           # rewrite every generated block
    .venv/bin/python tools/docs.py --check   # exit 1 naming each block out of date (tests/repo runs this)

A generated block sits between `<!-- BEGIN generated:NAME -->` and `<!-- END generated:NAME -->` in a
Markdown file; NAME picks its generator:
- `params`: the breaker's parameters, from keeper/params.py (the contract's bounds are checked against the
  same module by tests/unit/breaker/test_register_and_params.py);
- `bench`: every figure of the last full `make bench`, from bench/results.json, with its target where
  docs/benchmarks.md sets one;
- `replay-<scenario>`: what `python -m replay.compare scenarios/<scenario>.yaml --out docs/results/<scenario>`
  prints (the world x metric tables over seeds, the contribution lines, any miss), from the summary.json
  it writes there, with the command, seed count and code version the summary records and its chart.
  docs/results/<scenario>/ keeps only summary.json and chart.png in git (.gitignore): the per-cell
  result JSONs stay on the machine that ran them. `replay-<scenario>/<variant>` renders a run written
  to docs/results/<scenario>/<variant>/ (the same scenario with a `--param` or `--set`, say);
- `sensitivity-<scenario>`: what `python -m replay.sensitivity scenarios/<scenario>.yaml --out
  docs/results/<scenario>/sensitivity` prints (a table per headline metric, axis value x world), from the
  summary.json it writes there.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keeper import params as P  # noqa: E402 (after the path insert)

BLOCK = re.compile(
    r"(<!-- BEGIN generated:(?P<name>[\w/-]+) -->\n)(?P<body>.*?)(<!-- END generated:(?P=name) -->)",
    re.DOTALL,
)
BENCH = ROOT / "bench" / "results.json"
# Targets of docs/benchmarks.md, by key: (comparison, bound).
TARGETS: dict[str, tuple[str, float]] = {
    "gas.breaker.trip_rule_a": ("<=", 150_000),
    "gas.breaker.trip_rule_a_pool_hold": ("<=", 150_000),
    "gas.breaker.poke": ("<=", 60_000),
    "gas.pool.guarded_over_unguarded": ("<=", 1.04),
    "gas.pool.guarded_over_univ2_router": ("<=", 0.85),
    "gas.lending.guarded_over_unguarded": ("<=", 1.03),
    "gas.auction.settle_200": ("<=", 5_000_000),
    "gas.v4hook.swap_hooked_over_plain": ("<=", 1.08),
    "keeper.indicators_1000_markets_ms": ("<=", 50),
    "keeper.next_block_inclusion_rate": (">=", 0.95),
    "keeper.unwedge_blocks": ("<=", 3),
    "replay.oct10_usde_s": ("<=", 30),
    "replay.matrix_s": ("<=", 1_200),
    "replay.cluster_overhead": ("<=", 1.2),
    "security.cost_to_force_trip_tvl_share": (">=", 0.01),
}


def _number(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4f}".rstrip("0") if abs(value) < 10 else f"{value:,.1f}"
    return f"{int(value):,}"


def params_table() -> str:
    rows = ["| parameter | default | bounds | unit | meaning |", "|---|---|---|---|---|"]
    for p in P.PARAMS:
        scale = 10**18 if "18 dec" in p.unit else 1
        rows.append(
            f"| `{p.name}` | {p.default // scale:,} | {p.low // scale:,} .. {p.high // scale:,} "
            f"| {p.unit} | {p.meaning} |"
        )
    return "\n".join(rows) + "\n"


def bench_table() -> str:
    results = json.loads(BENCH.read_text())
    rows = ["| key | value | target | met |", "|---|---|---|---|"]
    for key, value in sorted(results.items()):
        target = TARGETS.get(key)
        if target is None:
            rows.append(f"| `{key}` | {_number(value)} | | |")
            continue
        op, bound = target
        met = value <= bound if op == "<=" else value >= bound
        rows.append(f"| `{key}` | {_number(value)} | {op} {_number(bound)} | {'yes' if met else '**no**'} |")
    return "\n".join(rows) + "\n"


def replay_summary(scenario: str) -> str:
    """The compare report of docs/results/<scenario>/summary.json as Markdown, rendered by replay/report.py
    (the same tables and lines the terminal shows), under a line saying where the figures come from."""
    from replay.report import render_contributions, seed_tables

    folder = ROOT / "docs" / "results" / scenario
    rerun = f"python -m replay.compare scenarios/{scenario}.yaml --out docs/results/{scenario}"
    path = folder / "summary.json"
    if not path.is_file():
        return f"No results yet: run `{rerun}`, then `python tools/docs.py`.\n"
    summary = json.loads(path.read_text())
    seeds = summary["seeds"]
    seed_text = (
        "its own borrower population (one seed)" if seeds == [None] else f"{len(seeds)} borrower seeds"
    )
    source = [
        f"From `docs/results/{scenario}/summary.json`: `{summary.get('command', rerun)}`, {seed_text}"
        + (f", the first {summary['blocks']:,} blocks" if summary.get("blocks") else "")
        + (f", code version `{summary['code_version']}`" if summary.get("code_version") else "")
        + "."
    ]
    if summary.get("failed"):
        source.append(f"Cells that failed (left out of the figures): {'; '.join(summary['failed'])}.")
    parts = [
        "\n".join(source),
        seed_tables(summary["worlds"], markdown=True),
        render_contributions(summary["contributions"], markdown=True),
    ]
    if summary.get("misses"):
        parts.append("\n".join(f"- {line}" for line in summary["misses"]))
    if (folder / "chart.png").is_file():
        parts.append(f"![{scenario}: composite vs no protection](results/{scenario}/chart.png)")
    return "\n\n".join(parts) + "\n"


def sensitivity_summary(scenario: str) -> str:
    """The tables of docs/results/<scenario>/sensitivity/summary.json as Markdown, rendered by
    replay/sensitivity.py (the same tables the terminal shows), under a line saying where they come from."""
    from replay.sensitivity import tables

    where = f"docs/results/{scenario}/sensitivity"
    rerun = f"python -m replay.sensitivity scenarios/{scenario}.yaml --out {where}"
    path = ROOT / where / "summary.json"
    if not path.is_file():
        return f"No results yet: run `{rerun}`, then `python tools/docs.py`.\n"
    summary = json.loads(path.read_text())
    seeds = len(summary["seeds"])  # a summary written before it recorded its command ran seeds 0..N-1
    ran = summary.get("command", rerun.replace(" --out", f" --seeds {seeds} --out"))
    source = (
        f"From `{where}/summary.json`: `{ran}`, {seeds} borrower seeds"
        + (f", the first {summary['blocks']:,} blocks" if summary.get("blocks") else "")
        + (f", code version `{summary['code_version']}`" if summary.get("code_version") else "")
        + "."
    )
    refused = [f"- refused: {line}" for line in summary.get("refused", [])]
    return "\n\n".join([source, tables(summary["variants"], markdown=True), *refused]) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {"params": params_table, "bench": bench_table}


def generator(name: str) -> Callable[[], str] | None:
    if name.startswith("replay-"):
        return lambda: replay_summary(name.removeprefix("replay-"))
    if name.startswith("sensitivity-"):
        return lambda: sensitivity_summary(name.removeprefix("sensitivity-"))
    return GENERATORS.get(name)


def regenerate(text: str, where: str) -> str:
    def fill(match: re.Match) -> str:
        make = generator(match["name"])
        if make is None:
            raise SystemExit(
                f"{where}: unknown generated block {match['name']!r}; known: "
                f"{', '.join(GENERATORS)}, replay-<scenario>, sensitivity-<scenario>"
            )
        return match.group(1) + make() + match.group(4)

    return BLOCK.sub(fill, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report blocks out of date instead of rewriting")
    args = parser.parse_args(argv)
    stale = []
    for path in sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]):
        text = path.read_text()
        if "<!-- BEGIN generated:" not in text:
            continue
        fresh = regenerate(text, str(path.relative_to(ROOT)))
        if fresh != text:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(fresh)
    if args.check and stale:
        print(f"generated docs out of date: {', '.join(stale)}; run .venv/bin/python tools/docs.py")
        return 1
    print(("rewrote " if stale else "up to date: ") + (", ".join(stale) or "every generated block"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
