"""Mutation testing for the Vyper contracts: how many deliberate bugs do the tests catch?

    .venv/bin/python tools/mutate.py [--contract contracts/CircuitBreaker.vy] [--tests tests/unit/breaker]
                                       [--limit N] [--only 3,17] [--rerun-survivors [--previous-blob B]]
                                       [--jobs N] [--timeout S] [--out bench/mutation.json]

Each mutant changes one thing on one code line (never in comments or docstrings):
  cmp      flips a comparison (<, <=, >, >=, ==, !=) to its neighbour
  assert   drops an `assert` (the line becomes `pass`)
  arith    swaps + and - (also += and -=)
  const    adds one to an integer literal
Not generated: the literal of a placeholder declaration (`cvd: uint256 = 0` right before `cvd, rl = f()`):
Vyper wants tuple targets declared first and the value is overwritten before any read.

How it runs, fast:
  1. Every mutant is compiled with the vyper compiler directly (the settings ape-vyper uses), in a
     background thread, cached in .build/mutants by source hash; one that does not compile is
     stillborn and left out of the score.
  2. One `ape test` run per job tests them all (tools/mutation_plugin.py): for each mutant the
     tests' `project.<Contract>` deploys the mutant, the tests run until the first failure (-x): the
     latest killers first, then tests calling a function that reaches the mutated line, then the
     fastest. The original runs first and must pass.
  3. A mutant whose bytecode is the original's is `equivalent` (no test can tell them apart) and left
     out of the score; one whose bytecode equals an earlier mutant's shares that mutant's outcome.
  4. --rerun-survivors runs the survivors of --out again (and mutants of lines it does not have),
     carrying the other outcomes over; mutants are matched by their text, so an edit elsewhere in
     the contract keeps them (--previous-blob names the source an older report ran on).
The score is killed / (killed + survived + timeout). The JSON keeps every mutant's outcome, seconds
and killing test; survivors are listed with their line so a reader can judge them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".build" / "mutants"  # compiled mutants by source hash
VYPER_VERSION = version("vyper")  # part of the cache key

CMP_FLIPS = {"<=": "<", ">=": ">", "<": "<=", ">": ">=", "==": "!=", "!=": "=="}
CMP_RE = re.compile(r"(?<![<>=!-])(<=|>=|==|!=|<(?![<=])|>(?![>=]))(?!=)")
ARITH_RE = re.compile(r"(?<=\s)(\+=|-=|\+|-)(?=\s)")
INT_RE = re.compile(r"(?<![\w.])(\d[\d_]*)(?![\w.])")
DECL_RE = re.compile(r"^(\s*)(\w+): [\w\[\], ]+ = \d[\d_]*\s*$")
LINE_KINDS = ("cmp", "assert", "arith", "const")
OUTCOMES = ("killed", "survived", "timeout", "stillborn", "equivalent")


@dataclass
class Mutant:
    index: int
    kind: str
    line: int
    before: str
    after: str
    outcome: str = "pending"  # killed | survived | timeout | stillborn | equivalent
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)  # killer, tests_run, compile_seconds, same_code_as, error


# ---------------------------------------------------------------- generation


def _code_lines(source: str) -> list[tuple[int, str]]:
    """(line number, text) of lines that are code: outside docstrings, not comments."""
    out, in_doc = [], False
    for number, text in enumerate(source.splitlines(), start=1):
        stripped = text.strip()
        quotes = stripped.count('"""')
        if in_doc:
            in_doc = quotes % 2 == 0
            continue
        if quotes % 2 == 1:
            in_doc = True
            continue
        if not stripped or stripped.startswith("#") or quotes:
            continue
        out.append((number, text))
    return out


def _strip_strings(text: str) -> str:
    """The line with string literals and trailing comments blanked, so no mutation lands there."""
    text = re.sub(r'"[^"]*"', lambda m: " " * len(m.group()), text)
    return text.split("#", 1)[0]


def _placeholders(code: list[tuple[int, str]]) -> set[int]:
    """Lines like `cvd: uint256 = 0` whose value is overwritten by a tuple assignment before any read.

    Only straight-line code and `for ... in range(<literal>)` may come between (both always reach the
    assignment); any other block, or the end of the function, and the line is not a placeholder.
    """
    found = set()
    for i, (number, text) in enumerate(code):
        decl = DECL_RE.match(_strip_strings(text))
        if not decl:
            continue
        indent, name = len(decl.group(1)), decl.group(2)
        word = re.compile(rf"\b{name}\b")
        for _, later in code[i + 1 :]:
            stripped = _strip_strings(later).strip()
            if len(later) - len(later.lstrip()) < indent:
                break
            if word.search(stripped):
                targets, _, value = stripped.partition(" = ")
                names = [t.strip() for t in targets.split(",")]
                if len(names) > 1 and name in names and value and not word.search(value):
                    found.add(number)
                break
            if stripped.endswith(":") and not re.match(r"for \w+: \w+ in range\([1-9]\d*\):$", stripped):
                break
    return found


def generate(source: str) -> list[Mutant]:
    mutants: list[Mutant] = []
    code_lines = _code_lines(source)
    placeholders = _placeholders(code_lines)
    for number, text in code_lines:
        code = _strip_strings(text)
        stripped = text.strip()
        if stripped.startswith(("event ", "struct ", "flag ", "interface ", "def ", "@", "from ", "import ")):
            continue
        for m in CMP_RE.finditer(code):
            op = m.group(1)
            mutated = text[: m.start(1)] + CMP_FLIPS[op] + text[m.end(1) :]
            mutants.append(Mutant(len(mutants), "cmp", number, text, mutated))
        if stripped.startswith("assert ") and code.count("(") == code.count(")"):  # one-line asserts
            indent = text[: len(text) - len(text.lstrip())]
            mutants.append(Mutant(len(mutants), "assert", number, text, f"{indent}pass"))
        for m in ARITH_RE.finditer(code):
            op = m.group(1)
            swap = {"+": "-", "-": "+", "+=": "-=", "-=": "+="}[op]
            mutated = text[: m.start(1)] + swap + text[m.end(1) :]
            mutants.append(Mutant(len(mutants), "arith", number, text, mutated))
        if number in placeholders:
            continue
        if "constant(" in code or ": uint256 =" in code or "return" in code or "range(" in code:
            for m in INT_RE.finditer(code):
                literal = m.group(1)
                value = int(literal.replace("_", ""))
                mutated = text[: m.start(1)] + str(value + 1) + text[m.end(1) :]
                mutants.append(Mutant(len(mutants), "const", number, text, mutated))
    return mutants


def _functions(source: str) -> dict[str, tuple[int, int, bool]]:
    """name -> (first line, last line, is external) of every `def` in a Vyper source."""
    lines = source.splitlines()
    found, decorators = {}, []
    for i, text in enumerate(lines):
        if text.startswith("@"):
            decorators.append(text.strip())
        elif m := re.match(r"def (\w+)\(", text):
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][0] in " #)"):
                end += 1
            found[m.group(1)] = (i + 1, end, "@external" in decorators)
            decorators = []
        elif text.strip() and not text.startswith((" ", "#")):
            decorators = []
    return found


def entry_points(source: str, line: int) -> list[str]:
    """The external functions (and public getters) through which a change on `line` can be seen: the
    function the line is in, or every function using the constant it defines, and their callers.
    Tests that call these run first; the others still run, so this only orders, never selects."""
    lines = source.splitlines()
    functions = _functions(source)
    body = {name: "\n".join(lines[a:b]) for name, (a, b, _) in functions.items()}
    inside = [name for name, (a, b, _) in functions.items() if a <= line <= b]
    if inside:
        reached, getters = set(inside), []
    else:
        constant = re.match(r"(\w+):", lines[line - 1].strip())
        name = constant.group(1) if constant else ""
        reached = {f for f, text in body.items() if name and re.search(rf"\b{name}\b", text)}
        getters = [name] if "public(" in lines[line - 1] else []
    while True:  # callers of what is reached, up to the external functions
        callers = {f for f, text in body.items() if any(f"self.{r}(" in text for r in reached)} - reached
        if not callers:
            break
        reached |= callers
    return sorted(f for f in reached if functions[f][2]) + getters


# ---------------------------------------------------------------- compilation


def _vyper_workdir(contract: Path) -> Path:
    """A directory shaped like the project's contracts folder, with the mutated file swapped in:
    every sibling of the contract is linked, so its relative imports (`.interfaces`, `.modules`) resolve."""
    work = Path(tempfile.mkdtemp(prefix="mutants-vyper-"))
    folder = work / contract.parent
    folder.mkdir(parents=True)
    for entry in (ROOT / contract.parent).iterdir():
        if entry.name != contract.name:
            os.symlink(entry, folder / entry.name)
    return work


def compile_source(work: Path, contract: Path, source: str) -> dict:
    """Compiles like ape-vyper does for 0.4 (`vyper <file> -f ... -p <project>`, default settings; the
    installed packages such as snekmate are on the compiler's own search path)."""
    (work / contract).write_text(source)
    started = time.perf_counter()
    result = subprocess.run(
        [
            shutil.which("vyper") or str(ROOT / ".venv" / "bin" / "vyper"),
            str(contract),
            "-f",
            "abi,bytecode,bytecode_runtime",
            "-p",
            str(work),
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = round(time.perf_counter() - started, 2)
    if result.returncode != 0:
        error = (result.stderr.strip().splitlines() or ["vyper failed"])[-1]
        return {"stillborn": True, "error": error, "compile_seconds": seconds}
    abi, bytecode, runtime = result.stdout.splitlines()[:3]
    return {
        "abi": json.loads(abi),
        "bytecode": bytecode,
        "bytecode_runtime": runtime,
        "compile_seconds": seconds,
    }


def _write_atomic(path: Path, data: dict) -> None:
    # The test run polls for the file: it must never see a half-written one.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def compile_all(contract: Path, source: str, mutants: list[Mutant], artifacts: Path) -> threading.Thread:
    """Compiles the original, then each mutant, in a thread, while the test runs start and go on.
    Outputs are kept in .build/mutants by source hash (a compile takes seconds), so a re-run of the
    survivors or of an unchanged contract only runs the tests."""

    def cached_compile(workdir: Path, text: str) -> dict:
        key = hashlib.sha256(f"{VYPER_VERSION}\n{contract}\n{text}".encode()).hexdigest()
        hit = CACHE / f"{key}.json"
        if hit.exists():
            return json.loads(hit.read_text())
        result = compile_source(workdir, contract, text)
        CACHE.mkdir(parents=True, exist_ok=True)
        _write_atomic(hit, result)
        return result

    def work() -> None:
        workdir = _vyper_workdir(contract)
        try:
            _write_atomic(artifacts / "original.json", cached_compile(workdir, source))
            lines = source.splitlines(keepends=True)
            for m in mutants:
                mutated = list(lines)
                mutated[m.line - 1] = m.after + "\n"
                _write_atomic(artifacts / f"{m.index}.json", cached_compile(workdir, "".join(mutated)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- test runs


def _scratch_copy(parent: Path) -> Path:
    """The project as it is now, with its compiled .build, so ape only checks instead of compiling;
    the virtualenv and node_modules are linked. The tests run here, never in the working tree."""
    project = parent / "project"
    ignore = shutil.ignore_patterns(".venv", "node_modules", ".git", "__pycache__", ".hypothesis", "results")
    shutil.copytree(ROOT, project, ignore=ignore, symlinks=True)
    for link in (".venv", "node_modules"):
        os.symlink(ROOT / link, project / link)
    return project


def start_test_run(
    job: int,
    contract: Path,
    source: str,
    tests: list[str],
    mutants: list[Mutant],
    artifacts: Path,
    timeout: int,
) -> subprocess.Popen:
    scratch = Path(tempfile.mkdtemp(prefix=f"mutants-{job}-"))
    project = _scratch_copy(scratch)
    plan = {
        "contract": contract.stem,
        "source_id": str(contract.relative_to("contracts")),
        "original": str(artifacts / "original.json"),
        "results": str(artifacts / f"results-{job}.jsonl"),
        "timeout": timeout,
        "mutants": [
            {
                "index": m.index,
                "line": m.line,
                "after": m.after,
                "artifact": str(artifacts / f"{m.index}.json"),
                "entry_points": entry_points(source, m.line),
            }
            for m in mutants
        ],
    }
    (scratch / "plan.json").write_text(json.dumps(plan))
    env = dict(os.environ, MUTATION_PLAN=str(scratch / "plan.json"), APE_DISABLE_TELEMETRY="1")
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{ROOT / 'node_modules' / '.bin'}:{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{project / 'tools'}:{env.get('PYTHONPATH', '')}"
    command = ["ape", "test", *tests, "-q", "-p", "no:cacheprovider", "-p", "mutation_plugin"]
    process = subprocess.Popen(command, cwd=project, env=env)
    process.scratch = scratch  # type: ignore[attr-defined]
    return process


# ---------------------------------------------------------------- report


def text_keys(mutants: list[Mutant]) -> dict[int, tuple[str, str, int]]:
    """index -> (line before, line after, how many identical changes come earlier): names a mutant
    independently of line numbers, so outcomes carry over edits elsewhere in the contract."""
    seen: dict[tuple[str, str], int] = {}
    keys = {}
    for m in mutants:
        change = (m.before.strip(), m.after.strip())
        keys[m.index] = (*change, seen.get(change, 0))
        seen[change] = seen.get(change, 0) + 1
    return keys


def source_blob(source: str) -> str:
    """The git object id of the contract source, so a later run can regenerate these mutants."""
    return subprocess.run(
        ["git", "hash-object", "--stdin"], input=source, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def carry_over(previous: dict, mutants: list[Mutant], source: str, blob: str | None) -> dict[int, dict]:
    """The previous report's outcomes under the current mutants' indices. Its mutants are regenerated
    from the source it ran on (a git blob) and matched by their text; changed lines match nothing."""
    blob = blob or previous.get("source_blob")
    old_source = (
        source
        if not blob
        else subprocess.run(
            ["git", "cat-file", "-p", blob], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    )
    old_keys = text_keys(generate(old_source))
    current = {key: index for index, key in text_keys(mutants).items()}
    lines = {m.index: m.line for m in mutants}
    carried = {}
    for row in previous["results"]:
        index = current.get(old_keys.get(row["index"]))
        if index is not None:
            carried[index] = {**row, "index": index, "line": lines[index]}
    return carried


def _select(mutants: list[Mutant], args: argparse.Namespace, carried: dict[int, dict]) -> list[Mutant]:
    if args.rerun_survivors:
        # the previous survivors, and mutants of lines the previous run did not have
        mutants = [
            m for m in mutants if carried.get(m.index, {"outcome": "survived"})["outcome"] == "survived"
        ]
    if args.only:
        wanted = {int(i) for i in args.only.split(",")}
        return [m for m in mutants if m.index in wanted]
    return mutants[: args.limit] if args.limit else mutants


def build_report(
    args: argparse.Namespace,
    source: str,
    mutants: list[Mutant],
    ran: list[Mutant],
    placeholders: int,
    previous: dict | None,
    carried: dict[int, dict],
    wall: float,
) -> dict:
    results = dict(carried)
    for m in ran:
        results[m.index] = {
            "index": m.index,
            "kind": m.kind,
            "line": m.line,
            "before": m.before,
            "after": m.after,
            "outcome": m.outcome,
            "seconds": m.seconds,
            **m.extra,
        }
    # Keep the generator's order; a merged report only covers mutants the current source still has.
    rows = [results[m.index] for m in mutants if m.index in results]
    counts = {k: sum(r["outcome"] == k for r in rows) for k in OUTCOMES}
    scored = counts["killed"] + counts["survived"] + counts["timeout"]
    timed = [m.seconds for m in ran if m.outcome in ("killed", "survived", "timeout")]
    befores = {m.index: m.before for m in mutants}
    blob = source_blob(source)
    timing = {
        "wall_s": round(wall, 1),
        "mutants_run": len(timed),
        "per_mutant_median_s": round(statistics.median(timed), 2) if timed else None,
        "per_mutant_mean_s": round(statistics.mean(timed), 2) if timed else None,
        "per_mutant_max_s": round(max(timed), 2) if timed else None,
        "killed_median_s": _median([m.seconds for m in ran if m.outcome == "killed"]),
        "survived_median_s": _median([m.seconds for m in ran if m.outcome == "survived"]),
        "compile_median_s": _median([m.extra.get("compile_seconds") or 0 for m in ran]),
    }
    return {
        "contract": args.contract,
        "source_blob": blob,
        "tests": args.tests,
        "command": " ".join(sys.argv),
        "mutants": len(rows),
        **counts,
        "placeholders_not_generated": placeholders,
        "score": round(counts["killed"] / scored, 4) if scored else 0.0,
        "outcomes_carried_over": len(carried) - sum(m.index in carried for m in ran),
        # Every run this report merges, oldest first: the first covers all mutants, later ones re-run some.
        "runs": [
            *_runs_of(previous, args.previous_blob),
            {"command": " ".join(sys.argv), "source_blob": blob, "tests": args.tests, "timing": timing},
        ],
        "timing": timing,
        "survivors": [
            {
                "index": r["index"],
                "kind": r["kind"],
                "line": r["line"],
                "before": befores[r["index"]],
                "after": r["after"],
            }
            for r in rows
            if r["outcome"] == "survived"
        ],
        "results": rows,
    }


def _runs_of(previous: dict | None, previous_blob: str) -> list[dict]:
    if not previous:
        return []
    if "runs" in previous:
        return previous["runs"]
    # reports written before runs were listed: the report itself, and the run it was merged into
    merged = previous.get("merged_into")
    older = [{k: merged[k] for k in ("command", "source_blob", "timing") if k in merged}] if merged else []
    own = {
        "command": previous["command"],
        "source_blob": previous.get("source_blob") or previous_blob,
        "tests": previous["tests"],
        "timing": previous["timing"],
    }
    return [*older, own]


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def print_table(report: dict) -> None:
    rows = report["results"]
    print(
        f"\n{'kind':8} {'mutants':>7} {'killed':>7} {'survived':>8} {'timeout':>7} {'stillborn':>9} "
        f"{'equiv.':>6} {'score':>7}"
    )
    for kind in (*LINE_KINDS, "all"):
        subset = [r for r in rows if kind in ("all", r["kind"])]
        c = {k: sum(r["outcome"] == k for r in subset) for k in OUTCOMES}
        scored = c["killed"] + c["survived"] + c["timeout"]
        score = f"{c['killed'] / scored:.1%}" if scored else "-"
        print(
            f"{kind:8} {len(subset):7} {c['killed']:7} {c['survived']:8} {c['timeout']:7} {c['stillborn']:9} "
            f"{c['equivalent']:6} {score:>7}"
        )
    t = report["timing"]
    print(
        f"\n{t['mutants_run']} mutants tested in {t['wall_s']} s: {t['per_mutant_median_s']} s median per "
        "mutant "
        f"(killed {t['killed_median_s']} s, survived {t['survived_median_s']} s, max "
        f"{t['per_mutant_max_s']} s); "
        f"vyper {t['compile_median_s']} s per compile, alongside"
    )
    print(
        f"score {report['score']:.1%}: killed {report['killed']} / (killed + survived {report['survived']} "
        f"+ timeout {report['timeout']}); stillborn {report['stillborn']}, equivalent {report['equivalent']} "
        f"and {report['placeholders_not_generated']} placeholders left out"
    )
    for s in report["survivors"]:
        print(
            f"  survivor #{s['index']} line {s['line']} [{s['kind']}]: {s['before'].strip()}  ->  "
            f"{s['after'].strip()}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contract", default="contracts/CircuitBreaker.vy")
    parser.add_argument(
        "--tests", default="tests/unit/breaker", help="test paths, comma-separated, run in this order"
    )
    parser.add_argument("--limit", type=int, default=0, help="run only the first N mutants (0: all)")
    parser.add_argument(
        "--only",
        default="",
        help="run only these mutant indices (comma-separated); with --rerun-survivors, only these survivors",
    )
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="run only the survivors listed in --out, and merge the outcomes into it",
    )
    parser.add_argument(
        "--previous-blob",
        default="",
        help="git blob of the source the --out report ran on, if it has none recorded",
    )
    parser.add_argument("--jobs", type=int, default=1, help="`ape test` runs in parallel (one anvil each)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per mutant")
    parser.add_argument("--out", default="bench/mutation.json")
    args = parser.parse_args()

    contract = Path(args.contract)
    source = (ROOT / contract).read_text()
    mutants = generate(source)
    placeholders = len(_placeholders(_code_lines(source)))
    out = ROOT / args.out
    previous = json.loads(out.read_text()) if args.rerun_survivors else None
    carried = carry_over(previous, mutants, source, args.previous_blob) if previous else {}
    selected = _select(mutants, args, carried)
    tests = [t for t in args.tests.split(",") if t]
    jobs = max(1, min(args.jobs, len(selected)))
    print(
        f"{len(mutants)} mutants of {contract} ({placeholders} placeholder lines left out); running "
        f"{len(selected)} in {jobs} test run(s); tests: {', '.join(tests)}",
        flush=True,
    )
    if not selected:
        return 0

    started = time.perf_counter()
    artifacts = Path(tempfile.mkdtemp(prefix="mutants-artifacts-"))
    runs = []
    try:
        compile_all(contract, source, selected, artifacts)
        runs = [
            start_test_run(j, contract, source, tests, selected[j::jobs], artifacts, args.timeout)
            for j in range(jobs)
        ]
        failed = [p.args for p in runs if p.wait() != 0]
        lines = [
            json.loads(line)
            for j in range(jobs)
            if (artifacts / f"results-{j}.jsonl").exists()
            for line in (artifacts / f"results-{j}.jsonl").read_text().splitlines()
        ]
    finally:
        for p in runs:
            if p.poll() is None:
                p.kill()
            shutil.rmtree(p.scratch, ignore_errors=True)
        shutil.rmtree(artifacts, ignore_errors=True)

    if failed or any(r["index"] == -1 for r in lines):
        print(f"test run failed ({failed or 'the tests fail on the original contract'}): no report written")
        return 1
    by_index = {r["index"]: r for r in lines}
    for m in selected:
        r = by_index.get(m.index)
        if r is None:
            continue  # the test run stopped before this mutant: it stays out of the report
        m.outcome, m.seconds = r["outcome"], r["seconds"]
        m.extra = {k: v for k, v in r.items() if k not in ("index", "outcome", "seconds") and v is not None}

    ran = [m for m in selected if m.outcome != "pending"]
    report = build_report(
        args, source, mutants, ran, placeholders, previous, carried, time.perf_counter() - started
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
