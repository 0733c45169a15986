"""Fee policy: eth_feeHistory percentiles, urgency, caps, and replacement bumps (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keeper.config import FeeSettings
from keeper.fees import Fees, bumped, first_send_ceiling, suggest_fees

GWEI = 10**9


def history(base_next=10 * GWEI, rewards=(1, 2, 3, 2, 50)):
    return {"baseFeePerGas": [9 * GWEI] * 5 + [base_next], "reward": [[int(r * GWEI)] for r in rewards]}


def test_suggest__median_reward_times_urgency():
    fees = suggest_fees(history(rewards=(1, 2, 50, 2, 2)), FeeSettings(), urgency=2.0)
    assert fees.priority == 4 * GWEI  # median of (1, 2, 50, 2, 2) gwei = 2, x2: one outlier block ignored
    assert fees.max_fee == 2 * 10 * GWEI + 4 * GWEI


def test_suggest__recent_spike_lifts_the_tip():
    fees = suggest_fees(history(rewards=(1, 1, 1, 1, 1, 1, 1, 6, 8, 9)), FeeSettings(), urgency=1.0)
    assert fees.priority == 8 * GWEI  # the last 3 blocks (6, 8, 9) are hotter than the window (1)


def test_suggest__urgency_one_for_resumes():
    assert suggest_fees(history(rewards=(1, 2, 3, 2, 2)), FeeSettings(), urgency=1.0).priority == 2 * GWEI


def test_suggest__empty_blocks_fall_back_to_node_tip_and_floor():
    h = {"baseFeePerGas": [GWEI, GWEI], "reward": [[0], [0]]}
    assert suggest_fees(h, FeeSettings(), 1.0, node_tip=3 * GWEI).priority == 3 * GWEI
    assert suggest_fees(h, FeeSettings(min_priority_gwei=Decimal("0.5")), 1.0).priority == GWEI // 2


def test_suggest__capped_below_the_cap_by_two_replacements():
    cfg = FeeSettings(max_fee_gwei=Decimal(15), max_priority_gwei=Decimal(3), bump_percent=12)
    fees = suggest_fees(history(), cfg, urgency=10.0)
    assert fees.priority == 3 * GWEI and fees.max_fee == first_send_ceiling(15 * GWEI, 12)
    assert fees.max_fee <= 15 * GWEI * 100**2 // 112**2  # 11.96 gwei: two +12% steps fit under 15


def test_first_send_at_the_ceiling__replaced_twice_under_the_cap():
    cfg = FeeSettings(max_fee_gwei=Decimal(100), max_priority_gwei=Decimal(5), bump_percent=10)
    cap = 100 * GWEI
    first = suggest_fees(history(base_next=1_000 * GWEI), cfg, urgency=2.0)  # a fee spike far above the cap
    once = bumped(first, first, 10, cap)
    assert once is not None
    twice = bumped(once, once, 10, cap)
    assert twice is not None and twice.max_fee <= cap
    assert bumped(twice, twice, 10, cap) is None  # the third would pass the cap: refused, not sent


def test_settings__cap_without_room_for_two_replacements_refused_naming_the_numbers():
    with pytest.raises(
        ValueError,
        match=r"max_fee_gwei 50 leaves a first send at most 39\.860 gwei once 2 "
        r"replacements at \+12% are reserved, below max_priority_gwei 45",
    ):
        FeeSettings(max_fee_gwei=Decimal(50), max_priority_gwei=Decimal(45), bump_percent=12)


def test_bump__both_fields_at_least_ten_percent():
    old = Fees(100 * GWEI, 2 * GWEI)
    new = bumped(old, Fees(50 * GWEI, GWEI), 10, 1_000 * GWEI)
    assert new.max_fee >= 110 * GWEI and new.priority >= 2.2 * GWEI
    assert new == Fees(110 * GWEI, 2_200_000_000)


def test_bump__follows_a_higher_suggestion():
    old = Fees(100 * GWEI, 2 * GWEI)
    new = bumped(old, Fees(300 * GWEI, 5 * GWEI), 12, 1_000 * GWEI)
    assert new == Fees(300 * GWEI, 5 * GWEI)


def test_bump__zero_tip_still_rises():
    assert bumped(Fees(100, 0), Fees(1, 0), 10, 10**9).priority == 1


def test_bump__cap_reached_gives_none():
    assert bumped(Fees(100 * GWEI, 2 * GWEI), Fees(1, 1), 10, 105 * GWEI) is None


def test_settings__bump_below_ten_percent_rejected():
    with pytest.raises(ValueError, match="greater than or equal to 10"):
        FeeSettings(bump_percent=9)
