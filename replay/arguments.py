"""The command-line options the matrix commands share (`replay.compare`, `replay.sensitivity`,
`replay.sweep`): which cells to replay, and where they run."""

from __future__ import annotations

import argparse

from keeper.params import resolve

DEFAULT_SEEDS = "20"


def parse_seeds(text: str) -> list[int]:
    """`20` is seeds 0..19; `3,7,11` is those seeds; `5-9` is 5..9."""
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        elif "-" in text.strip("-"):
            low, high = (int(s) for s in text.split("-", 1))
            seeds = list(range(low, high + 1))
        else:
            seeds = list(range(int(text)))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"seeds: expected N, a,b,c or low-high (got {text!r})") from exc
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"seeds: expected at least one seed, none negative (got {text!r})")
    return list(dict.fromkeys(seeds))


def parse_params(texts: list[str]) -> dict[str, int]:
    """`--param NAME=VALUE` texts as breaker parameter overrides, checked as the breaker's constructor
    would check them (keeper/params.py): an unknown name or a value out of bounds names itself."""
    params: dict[str, int] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--param {text!r}: expected NAME=VALUE")
        try:
            params[name.strip()] = int(value)
        except ValueError:
            raise ValueError(f"--param {text!r}: {value!r} is not a whole number") from None
    resolve(params)
    return params


def add_cell_arguments(parser: argparse.ArgumentParser, *, params: bool = True) -> None:
    """`--seeds` and `--blocks`, and `--param` (read it with `parse_params`) unless `params` is False."""
    parser.add_argument(
        "--seeds",
        type=parse_seeds,
        default=parse_seeds(DEFAULT_SEEDS),
        help=f"borrower seeds: N (0..N-1), a,b,c or low-high (default {DEFAULT_SEEDS})",
    )
    if params:
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a breaker parameter for every cell (max_halt_s=3600; docs/governance.md), repeatable",
        )
    parser.add_argument("--blocks", type=int, default=None, help="replay only the first BLOCKS steps")


def add_cluster_arguments(parser: argparse.ArgumentParser, force_help: str) -> None:
    """Where the cells run (`--address`, `--workers`) and `--force`."""
    parser.add_argument(
        "--address",
        default=None,
        help="Dask scheduler (default: DASK_SCHEDULER_ADDRESS, else a local cluster)",
    )
    parser.add_argument("--workers", type=int, default=None, help="local cluster's workers (default: cores)")
    parser.add_argument("--force", action="store_true", help=force_help)
