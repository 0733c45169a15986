"""Markets and parameters: registration, bounds, consistency, events with old and new values."""

import ape
import pytest

from keeper import params as P
from tests.helpers import DEPTH, WAD, advance, move_venue


def test_register_market__stores_venue_oracle_params(create_breaker, venue, oracle, governance, params_array):
    breaker = create_breaker()
    receipt = breaker.register_market(venue, oracle, params_array(cvd_trip_bps=400), sender=governance)
    [registered] = receipt.decode_logs(breaker.MarketRegistered)
    assert (registered.market_id, registered.venue, registered.oracle, registered.actor) == (
        0,
        venue.address,
        oracle.address,
        governance,
    )
    assert breaker.market_count() == 1
    assert breaker.params(0, P.BY_NAME["cvd_trip_bps"].key) == 400
    assert breaker.depth_baseline(0) == DEPTH
    assert breaker.frozen_price(0) == WAD
    sets = receipt.decode_logs(breaker.ParameterSet)
    assert [(e.key, e.old, e.new) for e in sets] == [
        (i, 0, v) for i, v in enumerate(params_array(cvd_trip_bps=400))
    ]


@pytest.mark.threat
def test_register_market__calm_depth_seeds_every_baseline_slot(
    create_breaker, venue, oracle, governance, params_array
):
    """Governance's calm depth, not the depth at the moment of registration, is the baseline."""
    breaker = create_breaker()
    breaker.register_market(venue, oracle, params_array(), 2 * DEPTH, sender=governance)
    assert breaker.calm_depth(0) == breaker.depth_baseline(0) == 2 * DEPTH
    assert breaker.indicators(0).rl_bps == 5_000


@pytest.mark.parametrize("calm_depth", [DEPTH * 10, DEPTH // 10])
def test_register_market__calm_depth_at_ten_times_the_settled_depth_succeeds(
    create_breaker, venue, oracle, governance, params_array, calm_depth
):
    """The bound is inclusive on both sides: ten times the settled depth, or a tenth of it."""
    breaker = create_breaker()
    breaker.register_market(venue, oracle, params_array(), calm_depth, sender=governance)
    assert breaker.calm_depth(0) == breaker.depth_baseline(0) == calm_depth


@pytest.mark.parametrize("calm_depth", [DEPTH * 10 + 1, DEPTH // 10 - 1])
@pytest.mark.threat
def test_register_market__calm_depth_beyond_ten_times_the_settled_depth_reverts(
    create_breaker, venue, oracle, governance, params_array, calm_depth
):
    breaker = create_breaker()
    with ape.reverts("CircuitBreaker: calm depth too far from the settled depth"):
        breaker.register_market(venue, oracle, params_array(), calm_depth, sender=governance)


@pytest.mark.threat
def test_reset_depth_baseline__drops_samples_and_logs(breaker, market_id, venue, governance, anyone):
    move_venue(venue, anyone, depth_ratio=0.5)
    for _ in range(16):
        advance(21_600)
        breaker.poke(market_id, sender=anyone)
    assert breaker.depth_baseline(market_id) == DEPTH // 2
    receipt = breaker.reset_depth_baseline(market_id, DEPTH // 4, sender=governance)
    assert receipt.decode_logs(breaker.DepthBaselineReset) == [
        breaker.DepthBaselineReset(
            market_id=market_id,
            actor=governance,
            old_baseline=DEPTH // 2,
            new_baseline=DEPTH // 4,
            settled_depth=DEPTH // 2,
        )
    ]
    assert breaker.calm_depth(market_id) == breaker.depth_baseline(market_id) == DEPTH // 4
    # the 16 samples are gone: one new sample is one of 30 values, the other 29 the new seed
    advance(21_600)
    sampled = breaker.poke(market_id, sender=anyone).decode_logs(breaker.DepthSampled)
    assert [(e.samples, e.baseline) for e in sampled] == [(1, DEPTH // 4)]


@pytest.mark.threat
def test_reset_depth_baseline__beyond_ten_times_the_settled_depth_reverts(breaker, market_id, governance):
    with ape.reverts("CircuitBreaker: calm depth too far from the settled depth"):
        breaker.reset_depth_baseline(market_id, DEPTH * 10 + 1, sender=governance)
    with ape.reverts("CircuitBreaker: calm depth is zero"):
        breaker.reset_depth_baseline(market_id, 0, sender=governance)


def test_register_market__not_governance_reverts(breaker, venue, oracle, anyone, guardian, params_array):
    for account in (anyone, guardian):
        with ape.reverts("access_control: account is missing role"):
            breaker.register_market(venue, oracle, params_array(), sender=account)


def test_register_market__venue_without_depth_reverts(
    project, breaker, oracle, governance, deployer, params_array
):
    empty = project.MockVenue.deploy(WAD, 0, sender=deployer)
    with ape.reverts("CircuitBreaker: venue has no depth"):
        breaker.register_market(empty, oracle, params_array(), sender=governance)


def test_register_market__not_contracts_reverts(breaker, venue, oracle, governance, anyone, params_array):
    with ape.reverts("CircuitBreaker: venue is not a contract"):
        breaker.register_market(anyone, oracle, params_array(), sender=governance)
    with ape.reverts("CircuitBreaker: oracle is not a contract"):
        breaker.register_market(venue, anyone, params_array(), sender=governance)


@pytest.mark.parametrize("spec", P.PARAMS, ids=[p.name for p in P.PARAMS])
def test_param_bounds__match_python_mirror(breaker, spec):
    assert breaker.param_bounds(spec.key) == (spec.low, spec.high)
    assert getattr(breaker, f"P_{spec.name.upper()}")() == spec.key


def test_num_params__matches_python_mirror(breaker):
    assert breaker.NUM_PARAMS() == len(P.PARAMS)


def test_set_param__logs_old_and_new(breaker, market_id, governance):
    receipt = breaker.set_param(market_id, 0, 500, sender=governance)
    [event] = receipt.decode_logs(breaker.ParameterSet)
    assert (event.market_id, event.key, event.old, event.new, event.actor) == (
        market_id,
        0,
        300,
        500,
        governance,
    )
    assert breaker.params(market_id, 0) == 500


BOUND_CASES = [
    pytest.param(p.key, value, id=f"{p.name}={value}")
    for p in P.PARAMS
    for value in ([p.low - 1] if p.low > 0 else []) + [p.high + 1]
]


@pytest.mark.parametrize("key, value", BOUND_CASES)
@pytest.mark.threat
def test_set_param__out_of_bounds_reverts(breaker, market_id, governance, key, value):
    with ape.reverts(f"CircuitBreaker: parameter {key} out of bounds"):
        breaker.set_param(market_id, key, value, sender=governance)


def test_set_param__at_bounds_succeeds(breaker, market_id, governance):
    breaker.set_param(market_id, P.BY_NAME["cvd_trip_bps"].key, 5_000, sender=governance)
    breaker.set_param(market_id, P.BY_NAME["max_halt_s"].key, 86_400, sender=governance)
    breaker.set_param(market_id, P.BY_NAME["daily_trip_budget"].key, 1, sender=governance)


def test_set_param__resume_not_below_trip_reverts(breaker, market_id, governance):
    with ape.reverts("CircuitBreaker: CVD resume must be below CVD trip"):
        breaker.set_param(market_id, P.BY_NAME["cvd_resume_bps"].key, 300, sender=governance)
    with ape.reverts("CircuitBreaker: R_L resume must be above R_L trip"):
        breaker.set_param(market_id, P.BY_NAME["rl_resume_bps"].key, 2_000, sender=governance)


@pytest.mark.threat
def test_set_param__halt_window_out_of_bounds_reverts(breaker, market_id, governance):
    breaker.set_param(market_id, P.BY_NAME["t_dlp_s"].key, 0, sender=governance)
    breaker.set_param(market_id, P.BY_NAME["t_priority_s"].key, 0, sender=governance)
    with ape.reverts("CircuitBreaker: halt window N out of bounds"):
        breaker.set_param(market_id, P.BY_NAME["t_buffer_s"].key, 59, sender=governance)


def test_set_param__halt_window_not_below_max_halt_reverts(breaker, market_id, governance):
    breaker.set_param(market_id, P.BY_NAME["t_dlp_s"].key, 900, sender=governance)
    with ape.reverts("CircuitBreaker: halt window N must be below max halt"):
        breaker.set_param(market_id, P.BY_NAME["max_halt_s"].key, 900, sender=governance)


def test_set_param__unknown_key_reverts(breaker, market_id, governance):
    with ape.reverts("CircuitBreaker: unknown parameter"):
        breaker.set_param(market_id, 19, 1, sender=governance)


def test_set_param__unknown_market_reverts(breaker, market_id, governance):
    with ape.reverts("CircuitBreaker: unknown market"):
        breaker.set_param(market_id + 1, 0, 400, sender=governance)


def test_halt_window__is_max_of_dlp_and_priority_plus_buffer(breaker, market_id, governance):
    assert breaker.halt_window(market_id) == 300 + 60
    breaker.set_param(market_id, P.BY_NAME["t_priority_s"].key, 600, sender=governance)
    assert breaker.halt_window(market_id) == 600 + 60


def test_register_market__venue_without_price_reverts(
    project, breaker, oracle, governance, deployer, params_array
):
    no_price = project.MockVenue.deploy(0, DEPTH, sender=deployer)
    with ape.reverts("CircuitBreaker: venue has no price"):
        breaker.register_market(no_price, oracle, params_array(), sender=governance)


def test_set_param__halt_window_at_upper_bound_succeeds(breaker, market_id, governance):
    breaker.set_param(market_id, P.BY_NAME["t_dlp_s"].key, 3_540, sender=governance)
    assert breaker.halt_window(market_id) == 3_600


def test_set_param__halt_window_equal_to_max_halt_reverts(breaker, market_id, governance):
    breaker.set_param(market_id, P.BY_NAME["max_halt_s"].key, 900, sender=governance)
    with ape.reverts("CircuitBreaker: halt window N must be below max halt"):
        breaker.set_param(market_id, P.BY_NAME["t_dlp_s"].key, 840, sender=governance)
