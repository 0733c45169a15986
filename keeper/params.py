"""The breaker's per-market parameters: names, contract keys, defaults and bounds.

Mirrors the `P_*` keys and the `PARAM_MIN` / `PARAM_MAX` constants of `CircuitBreaker.vy`
(a test checks the two agree), so a deploy config is validated before any transaction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParamSpec:
    name: str
    key: int
    default: int
    low: int
    high: int
    unit: str
    meaning: str


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("cvd_trip_bps", 0, 300, 50, 5_000, "bps", "CVD above which rule A may trip"),
    ParamSpec(
        "cvd_resume_bps", 1, 100, 10, 5_000, "bps", "CVD below which a halt may resume (< cvd_trip_bps)"
    ),
    ParamSpec("rl_trip_bps", 2, 2_000, 100, 9_000, "bps", "R_L below which rule A may trip"),
    ParamSpec(
        "rl_resume_bps", 3, 5_000, 100, 10_000, "bps", "R_L above which a halt may resume (> rl_trip_bps)"
    ),
    ParamSpec("si_trip_bps", 4, 500, 10, 5_000, "bps", "S_I above which rule B may trip"),
    ParamSpec(
        "si_notional",
        5,
        1_000_000 * 10**18,
        10**18,
        10**30,
        "quote, 18 dec",
        "notional V of the market sell that S_I measures",
    ),
    ParamSpec("vp_trip_bps", 6, 1_000, 100, 5_000, "bps", "V_P above which rule B may trip"),
    ParamSpec("vp_window_s", 7, 300, 60, 3_600, "s", "window of V_P (largest drop from the window's high)"),
    ParamSpec(
        "lce_critical_bps",
        8,
        10_000,
        100,
        1_000_000,
        "bps",
        "LCE (liquidatable notional / depth) a keeper must attest for rule B and extensions",
    ),
    ParamSpec(
        "depth_band_bps", 9, 100, 10, 1_000, "bps", "band around the spot price that R_L measures depth in"
    ),
    ParamSpec(
        "t_dlp_s", 10, 300, 0, 3_600, "s", "T_DLP: time designated liquidity providers need to move funds"
    ),
    ParamSpec(
        "t_priority_s", 11, 12, 0, 600, "s", "T_chain_priority: fastest priority confirmation on chain"
    ),
    ParamSpec("t_buffer_s", 12, 60, 0, 1_800, "s", "T_buffer added to the halt window"),
    ParamSpec("arm_ttl_s", 13, 120, 12, 900, "s", "how long an arm (trip or resume) can be confirmed"),
    ParamSpec("cooldown_s", 14, 180, 30, 1_800, "s", "COOLDOWN duration after a resume"),
    ParamSpec("auction_s", 15, 180, 30, 1_800, "s", "AUCTION duration before trading reopens"),
    ParamSpec("max_halt_s", 16, 14_400, 900, 86_400, "s", "a halt lapses into COOLDOWN after this"),
    ParamSpec(
        "daily_trip_budget", 17, 3, 1, 24, "trips", "rule A and B trips per UTC day; then guardian only"
    ),
    ParamSpec(
        "hold_blocks",
        18,
        10,
        2,
        30,
        "blocks",
        "rule A confirms only once the deviation held at this many block starts, the confirmation's included",
    ),
)

BY_NAME: dict[str, ParamSpec] = {p.name: p for p in PARAMS}

# Bounds of the derived halt window N = max(t_dlp_s, t_priority_s) + t_buffer_s.
MIN_HALT_WINDOW_S = 60
MAX_HALT_WINDOW_S = 3_600


def halt_window(values: dict[str, int]) -> int:
    """N = max(T_DLP, T_priority) + T_buffer, in seconds."""
    return max(values["t_dlp_s"], values["t_priority_s"]) + values["t_buffer_s"]


def resolve(overrides: dict[str, int] | None = None) -> dict[str, int]:
    """Defaults with `overrides` applied, checked against bounds and each other.

    Raises ValueError naming the parameter and what is expected.
    """
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}; known: {', '.join(BY_NAME)}")
    values = {p.name: int(overrides.get(p.name, p.default)) for p in PARAMS}
    for p in PARAMS:
        v = values[p.name]
        if not p.low <= v <= p.high:
            raise ValueError(f"{p.name} must be between {p.low:,} and {p.high:,} {p.unit} (got {v:,})")
    if values["cvd_resume_bps"] >= values["cvd_trip_bps"]:
        raise ValueError("cvd_resume_bps must be below cvd_trip_bps (hysteresis)")
    if values["rl_resume_bps"] <= values["rl_trip_bps"]:
        raise ValueError("rl_resume_bps must be above rl_trip_bps (hysteresis)")
    n = halt_window(values)
    if not MIN_HALT_WINDOW_S <= n <= MAX_HALT_WINDOW_S:
        raise ValueError(
            f"halt window N = max(t_dlp_s, t_priority_s) + t_buffer_s = {n} s must be between "
            f"{MIN_HALT_WINDOW_S} and {MAX_HALT_WINDOW_S} s"
        )
    if n >= values["max_halt_s"]:
        raise ValueError(f"halt window N = {n} s must be below max_halt_s = {values['max_halt_s']} s")
    return values


def as_array(values: dict[str, int]) -> list[int]:
    """The contract's uint256[NUM_PARAMS] layout."""
    return [values[p.name] for p in PARAMS]
