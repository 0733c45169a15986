"""The solc-js build of Uniswap v4 core reproduces the bytecode Uniswap published in the package."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from devchain.solc import NODE_MODULES, V4_CORE, BuildError, compile_build, contracts


def test_pool_manager__runtime_matches_the_published_build():
    published = json.loads(
        (NODE_MODULES / V4_CORE.package / "out/PoolManager.sol/PoolManager.json").read_text()
    )
    assert contracts(V4_CORE)["PoolManager"]["runtime"] == published["deployedBytecode"]["object"]


def test_compile_build__second_call_is_served_from_the_cache():
    first, _ = compile_build(V4_CORE)
    again, seconds = compile_build(V4_CORE)
    assert again == first and seconds == 0.0


def test_compile_build__compiler_version_other_than_pinned_reverts():
    with pytest.raises(BuildError, match="needs solc 0.8.99, npm 'solc' is 0.8.26"):
        compile_build(replace(V4_CORE, compiler_version="0.8.99"))
