"""pytest plugin behind tools/mutate.py: every mutant of one contract in a single `ape test` run.

Starting ape, anvil and the project costs about 15 s, more than most mutants need to be killed. So
instead of one `ape test` per mutant, this plugin takes over pytest's test loop: for each mutant it
makes `project.<Contract>` return the mutant's bytecode and ABI, runs the collected tests until the
first failure (`-x`), then tears every fixture down, whatever its scope. The chain snapshot ape
took before the first fixture is restored with them, so each mutant starts from the same chain.

It is driven by a JSON plan named in MUTATION_PLAN (written by tools/mutate.py):
  contract   the contract name the tests deploy (`project.CircuitBreaker`)
  original   the compiled original (JSON artifact), run first: every test must pass on it
  mutants    [{index, line, after, artifact, entry_points}]: artifacts appear while the tests run
             (compiled alongside; "stillborn" set: did not compile); entry_points are the external
             functions through which the mutated line is reached, whose tests run first
  results    a JSON-lines file, one line per mutant, appended as each one finishes
  timeout    seconds per mutant
Without MUTATION_PLAN the plugin does nothing.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import time
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

PLAN_ENV = "MUTATION_PLAN"
RECENT_KILLERS = 4  # how many of the latest killing tests run first for the next mutant


class MutationRun:
    def __init__(self, plan: dict, config: pytest.Config):
        self.plan = plan
        self.config = config
        self.results = Path(plan["results"])
        self.contract_type = None  # what `project.<contract>` returns now; None: the project's own
        self.kills: dict[str, int] = {}  # test id -> mutants it killed, so killers run first
        self.durations: dict[str, float] = {}  # test id -> seconds on the original
        self.sources: dict[str, str] = {}  # test id -> source of the test function
        self.recent: list[str] = []  # the latest killing tests, newest first

    # -- the contract the tests deploy

    def patch_project(self) -> None:
        from ape.contracts import ContractContainer
        from ape.managers.project import ContractManager

        original_get = ContractManager.get
        run = self

        def get(manager, name, *args, **kwargs):
            if name == run.plan["contract"] and run.contract_type is not None:
                return ContractContainer(run.contract_type)
            return original_get(manager, name, *args, **kwargs)

        # Only the in-memory lookup changes: the project's manifest on disk is never touched.
        ContractManager.get = get

    @staticmethod
    def cache_provider_settings() -> None:
        """ape rebuilds the provider's settings (a pydantic model) on every read, and the enrichment
        of one expected revert reads them hundreds of times: about a second per `ape.reverts`. They
        do not change during the run, so keep them per provider and provider_settings: the tests
        do the same thing, several times faster."""
        from ape_foundry.provider import FoundryProvider

        build = FoundryProvider.settings.fget
        cache: dict[tuple[int, str], object] = {}

        def settings(provider):
            key = (id(provider), repr(provider.provider_settings))
            if key not in cache:
                cache[key] = build(provider)
            return cache[key]

        FoundryProvider.settings = property(settings)

    @staticmethod
    def load_artifact(path: Path, timeout: float) -> dict:
        """Waits for the artifact the compiler is writing alongside the tests."""
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                return {"stillborn": True, "error": f"no artifact after {timeout:.0f} s"}
            time.sleep(0.2)
        return json.loads(path.read_text())

    def contract_type_of(self, artifact: dict):
        from ethpm_types import ContractType

        return ContractType.model_validate(
            {
                "contractName": self.plan["contract"],
                "sourceId": self.plan.get("source_id"),
                "abi": artifact["abi"],
                "deploymentBytecode": {"bytecode": artifact["bytecode"]},
                "runtimeBytecode": {"bytecode": artifact["bytecode_runtime"]},
            }
        )

    # -- one round: all tests against one version of the contract

    def run_round(self, session: pytest.Session, items: list[pytest.Item], timeout: float) -> dict:
        started = time.perf_counter()
        outcome, killer, ran = "survived", None, 0
        for i, item in enumerate(items):
            if time.perf_counter() - started > timeout:
                outcome = "timeout"
                break
            next_item = items[i + 1] if i + 1 < len(items) else None
            item_started = time.perf_counter()
            # log=False: no per-test terminal output or failure summary for hundreds of mutants.
            reports = runtestprotocol(item, log=False, nextitem=next_item)
            self.durations.setdefault(item.nodeid, time.perf_counter() - item_started)
            ran += 1
            if any(r.failed for r in reports):
                outcome, killer = "killed", item.nodeid
                break
        # Tear down every fixture, whatever its scope: the next round deploys afresh.
        session._setupstate.teardown_exact(None)
        return {
            "outcome": outcome,
            "killer": killer,
            "tests_run": ran,
            "seconds": round(time.perf_counter() - started, 2),
        }

    def ordered(self, items: list[pytest.Item], entry_points: list[str]) -> list[pytest.Item]:
        """Every test runs, in an order that finds a kill early. Mutants come in line order, so
        neighbours tend to die by the same test: the last few killers go first, then tests calling
        a function through which the mutated line is reached, then earlier killers, then the fastest."""
        position = {item.nodeid: i for i, item in enumerate(items)}
        calls = re.compile(r"\.(" + "|".join(map(re.escape, entry_points)) + r")\b") if entry_points else None

        def key(item: pytest.Item):
            recent = self.recent.index(item.nodeid) if item.nodeid in self.recent else len(self.recent)
            reaches = bool(calls and calls.search(self.source_of(item)))
            return (
                recent,
                not reaches,
                -self.kills.get(item.nodeid, 0),
                self.durations.get(item.nodeid, 0.0),
                position[item.nodeid],
            )

        return sorted(items, key=key)

    def source_of(self, item: pytest.Item) -> str:
        if item.nodeid not in self.sources:
            try:
                self.sources[item.nodeid] = inspect.getsource(item.obj)
            except (AttributeError, OSError, TypeError):
                self.sources[item.nodeid] = ""
        return self.sources[item.nodeid]

    def run(self, session: pytest.Session) -> None:
        writer = self.config.get_terminal_writer()
        timeout = float(self.plan["timeout"])
        items = list(session.items)
        self.patch_project()
        self.cache_provider_settings()

        original = self.load_artifact(Path(self.plan["original"]), timeout)
        if original.get("stillborn"):
            raise pytest.UsageError(f"the original contract does not compile: {original.get('error')}")
        self.contract_type = self.contract_type_of(original)
        baseline = self.run_round(session, items, timeout * 4)
        writer.line(
            f"original: {baseline['outcome']} ({baseline['tests_run']} tests, {baseline['seconds']} s)"
        )
        if baseline["outcome"] != "survived":
            # A failing suite would "kill" every mutant: refuse to report a meaningless score.
            self.write({"index": -1, **baseline, "outcome": "baseline_failed"})
            raise pytest.UsageError(f"the tests fail on the original contract: {baseline['killer']}")

        original_code = original["bytecode"]
        by_code: dict[str, dict] = {}  # bytecode hash -> result of the first mutant with that code
        total = len(self.plan["mutants"])
        for n, mutant in enumerate(self.plan["mutants"], start=1):
            artifact = self.load_artifact(Path(mutant["artifact"]), timeout)
            if artifact.get("stillborn"):
                result = {"outcome": "stillborn", "seconds": 0.0, "error": artifact.get("error", "")[:300]}
            elif artifact["bytecode"] == original_code:
                # The compiler produced the original bytecode: no test can tell them apart.
                result = {"outcome": "equivalent", "seconds": 0.0, "reason": "identical bytecode"}
            else:
                code_hash = hashlib.sha256(artifact["bytecode"].encode()).hexdigest()
                if code_hash in by_code:
                    result = {
                        **by_code[code_hash],
                        "same_code_as": by_code[code_hash]["index"],
                        "seconds": 0.0,
                    }
                else:
                    self.contract_type = self.contract_type_of(artifact)
                    result = self.run_round(
                        session, self.ordered(items, mutant.get("entry_points", [])), timeout
                    )
                    if killer := result["killer"]:
                        self.kills[killer] = self.kills.get(killer, 0) + 1
                        self.recent = [killer, *(t for t in self.recent if t != killer)][:RECENT_KILLERS]
                    by_code[code_hash] = {**result, "index": mutant["index"]}
            result = {**result, "index": mutant["index"], "compile_seconds": artifact.get("compile_seconds")}
            self.write(result)
            killer = f"  by {result['killer'].split('::')[-1]}" if result.get("killer") else ""
            writer.line(
                f"[{n}/{total}] #{mutant['index']:<3} {result['outcome']:10} {result['seconds']:6.1f} s"
                f"  line {mutant['line']}: {mutant['after'].strip()[:70]}{killer}",
                flush=True,
            )
        self.contract_type = None

    def write(self, result: dict) -> None:
        with self.results.open("a") as out:
            out.write(json.dumps(result) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    if plan_path := os.environ.get(PLAN_ENV):
        config.pluginmanager.register(
            MutationLoop(json.loads(Path(plan_path).read_text()), config), "mutation-loop"
        )


class MutationLoop:
    def __init__(self, plan: dict, config: pytest.Config):
        self.mutations = MutationRun(plan, config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session):
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} errors during collection")
        if session.config.option.collectonly:
            return True
        self.mutations.run(session)
        return True  # the default loop must not run the tests once more
