"""Every external and deploy function of a deployable contract carries NatSpec: a `@notice` or `@dev`, a
`@param` for each parameter, and a `@return` when it returns something.

The text is read through the compiler (vyper's devdoc/userdoc for external functions), so a misspelt `@param`
fails compilation here as it would for any consumer of the docs. Constructors are not in vyper's devdoc, so
their docstring is parsed with the same NatSpec parser.
"""

from __future__ import annotations

import site
from pathlib import Path

import pytest
from vyper.ast import nodes as vy_ast
from vyper.ast.natspec import _parse_docstring
from vyper.compiler.input_bundle import FilesystemInputBundle
from vyper.compiler.phases import CompilerData
from vyper.semantics.types.function import FunctionVisibility

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
# test doubles and internal-only modules are not deployed
DEPLOYABLE = sorted(
    p for p in CONTRACTS.rglob("*.vy") if not {"mocks", "modules"} & set(p.relative_to(CONTRACTS).parts)
)
SEARCH_PATHS = [ROOT, CONTRACTS, *map(Path, site.getsitepackages())]


def _documented(doc: dict) -> bool:
    return bool(doc.get("notice") or doc.get("details"))


def natspec_gaps(path: Path) -> list[str]:
    """`<contract>.<function>: <what is missing>` for each external or deploy function of the contract at
    `path` (exported module functions are documented in their module)."""
    bundle = FilesystemInputBundle(SEARCH_PATHS)
    data = CompilerData(bundle.load_file(path), bundle)
    module = data.annotated_vyper_module
    devdoc = data.natspec.devdoc.get("methods", {})
    userdoc = data.natspec.userdoc.get("methods", {})
    gaps: list[str] = []
    for fn in module.get_children(vy_ast.FunctionDef):
        fn_type = fn._metadata["func_type"]
        where = f"{path.stem}.{fn.name}"
        args = tuple(a.arg for a in fn.args.args)
        if fn_type.visibility == FunctionVisibility.DEPLOY:
            text = fn.get("doc_string.value") or ""
            doc = (
                _parse_docstring(module.full_source_code, text, ("title", "license"), args, 0) if text else {}
            )
            doc = {**doc, "details": doc.get("details") or doc.get("notice")}
        elif fn_type.visibility == FunctionVisibility.EXTERNAL:
            # with default arguments there is one method id per arity, and vyper files the notice under the
            # first
            doc = {}
            for method_id in fn_type.method_ids:
                doc.update({**devdoc.get(method_id, {}), **userdoc.get(method_id, {})})
        else:
            continue
        if not _documented(doc):
            gaps.append(f"{where}: no @notice or @dev")
        gaps += [f"{where}: no @param {arg}" for arg in args if arg not in doc.get("params", {})]
        if fn.returns is not None and not doc.get("returns"):
            gaps.append(f"{where}: no @return")
    return gaps


def test_deployable_contracts__are_found():
    names = {p.stem for p in DEPLOYABLE}
    assert {"CircuitBreaker", "GuardedPool", "LendingMarket", "ReferenceOracle", "ReopeningAuction"} <= names
    assert not any("Mock" in name for name in names)


@pytest.mark.parametrize("path", DEPLOYABLE, ids=lambda p: p.stem)
def test_external_functions__have_notice_every_param_and_return(path: Path):
    assert natspec_gaps(path) == []


def test_natspec_gaps__name_the_contract_function_and_parameter(tmp_path: Path):
    source = tmp_path / "Undocumented.vy"
    source.write_text(
        "# pragma version ~=0.4.3\n"
        "@deploy\ndef __init__(x: uint256):\n    pass\n\n"
        "@external\ndef f(a: uint256, b: address = empty(address)) -> uint256:\n"
        '    """\n    @notice Returns `a`.\n    @param a The first.\n    """\n    return a\n'
    )
    assert natspec_gaps(source) == [
        "Undocumented.__init__: no @notice or @dev",
        "Undocumented.__init__: no @param x",
        "Undocumented.f: no @param b",
        "Undocumented.f: no @return",
    ]
