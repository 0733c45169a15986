"""Mutation testing for the Vyper contracts: how many deliberate bugs do the tests catch?

    .venv/bin/python scripts/mutate.py [--contract contracts/CircuitBreaker.vy]
                                       [--tests tests/unit/breaker] [--limit N] [--out FILE]

Each mutant changes one thing on one code line (never in comments or docstrings):
  cmp      flips a comparison (<, <=, >, >=, ==, !=) to its neighbour
  assert   drops an `assert` (the line becomes `pass`)
  arith    swaps + and - (also += and -=)
  const    adds one to an integer literal
For each mutant the project is copied to a scratch directory (virtualenv and node_modules linked),
the mutated contract compiled, and the tests run with `-x`: a failing test kills the mutant, a
mutant that does not compile is stillborn and left out of the score. The score is
killed / (killed + survived); survivors are listed with their line so a reader can judge them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CMP_FLIPS = {"<=": "<", ">=": ">", "<": "<=", ">": ">=", "==": "!=", "!=": "=="}
CMP_RE = re.compile(r"(?<![<>=!-])(<=|>=|==|!=|<(?![<=])|>(?![>=]))(?!=)")
ARITH_RE = re.compile(r"(?<=\s)(\+=|-=|\+|-)(?=\s)")
INT_RE = re.compile(r"(?<![\w.])(\d[\d_]*)(?![\w.])")
LINE_KINDS = ("cmp", "assert", "arith", "const")


@dataclass
class Mutant:
    index: int
    kind: str
    line: int
    before: str
    after: str
    outcome: str = "pending"  # killed | survived | stillborn | timeout
    seconds: float = 0.0


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


def generate(source: str) -> list[Mutant]:
    mutants: list[Mutant] = []
    for number, text in _code_lines(source):
        code = _strip_strings(text)
        stripped = text.strip()
        if stripped.startswith(("event ", "struct ", "flag ", "interface ", "def ", "@", "from ", "import ")):
            continue
        for m in CMP_RE.finditer(code):
            op = m.group(1)
            mutated = text[: m.start(1)] + CMP_FLIPS[op] + text[m.end(1):]
            mutants.append(Mutant(len(mutants), "cmp", number, text, mutated))
        if stripped.startswith("assert ") and code.count("(") == code.count(")"):  # one-line asserts
            indent = text[: len(text) - len(text.lstrip())]
            mutants.append(Mutant(len(mutants), "assert", number, text, f"{indent}pass"))
        for m in ARITH_RE.finditer(code):
            op = m.group(1)
            swap = {"+": "-", "-": "+", "+=": "-=", "-=": "+="}[op]
            mutated = text[: m.start(1)] + swap + text[m.end(1):]
            mutants.append(Mutant(len(mutants), "arith", number, text, mutated))
        if "constant(" in code or ": uint256 =" in code or "return" in code or "range(" in code:
            for m in INT_RE.finditer(code):
                literal = m.group(1)
                value = int(literal.replace("_", ""))
                mutated = text[: m.start(1)] + str(value + 1) + text[m.end(1):]
                mutants.append(Mutant(len(mutants), "const", number, text, mutated))
    return mutants


def _scratch_copy() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="mutants-"))
    ignore = shutil.ignore_patterns(".venv", "node_modules", ".build", ".git", "__pycache__", ".hypothesis")
    shutil.copytree(ROOT, scratch / "project", ignore=ignore)
    for link in (".venv", "node_modules"):
        os.symlink(ROOT / link, scratch / "project" / link)
    return scratch / "project"


def _run(project: Path, tests: str, timeout: int) -> tuple[str, float]:
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{ROOT / 'node_modules' / '.bin'}:{env.get('PATH', '')}"
    started = time.perf_counter()
    compiled = subprocess.run(["ape", "compile"], cwd=project, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    if compiled.returncode != 0:
        return "stillborn", time.perf_counter() - started
    try:
        result = subprocess.run(["ape", "test", tests, "-x", "-q", "-p", "no:cacheprovider"], cwd=project, env=env,
                                capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - started
    return ("survived" if result.returncode == 0 else "killed"), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contract", default="contracts/CircuitBreaker.vy")
    parser.add_argument("--tests", default="tests/unit/breaker")
    parser.add_argument("--limit", type=int, default=0, help="run only the first N mutants (0: all)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per mutant")
    parser.add_argument("--out", default="bench/mutation.json")
    args = parser.parse_args()

    contract = Path(args.contract)
    source = (ROOT / contract).read_text()
    mutants = generate(source)
    if args.limit:
        mutants = mutants[: args.limit]
    project = _scratch_copy()
    target = project / contract
    print(f"{len(mutants)} mutants of {contract}; tests: {args.tests}", flush=True)
    try:
        lines = source.splitlines(keepends=True)
        for m in mutants:
            mutated = list(lines)
            mutated[m.line - 1] = m.after + "\n"
            target.write_text("".join(mutated))
            m.outcome, m.seconds = _run(project, args.tests, args.timeout)
            print(f"[{m.index + 1}/{len(mutants)}] {m.outcome:9} {m.kind:6} line {m.line}: {m.after.strip()}",
                  flush=True)
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)

    counts = {k: sum(m.outcome == k for m in mutants) for k in ("killed", "survived", "stillborn", "timeout")}
    scored = counts["killed"] + counts["survived"] + counts["timeout"]
    score = (counts["killed"] + counts["timeout"]) / scored if scored else 0.0
    report = {"contract": str(contract), "tests": args.tests, "mutants": len(mutants), **counts, "score": score,
              "survivors": [asdict(m) for m in mutants if m.outcome == "survived"]}
    out = ROOT / args.out
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nkilled {counts['killed']}, survived {counts['survived']}, timeout {counts['timeout']}, "
          f"stillborn {counts['stillborn']}: score {score:.1%} (written to {args.out})")
    for m in mutants:
        if m.outcome == "survived":
            print(f"  survivor line {m.line} [{m.kind}]: {m.before.strip()}  ->  {m.after.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
