"""The comparison table's `prevented` column: wrongful USD avoided relative to `none`."""

import pytest

from replay.report import prevented_share

NONE = {"breaker": "none", "wrongful_liquidated_usd": 13_570_079.0}


@pytest.mark.parametrize(
    "wrongful, shown",
    [
        (64_544.0, "99.5%"),
        (13_570_079.0, "0.0%"),
        (13_570_079.3, "0.0%"),  # cents more than `none` is no protection, not "-0.0%"
        (27_140_158.0, "-100.0%"),  # worse than no protection says so
    ],
)
def test_prevented_share(wrongful, shown):
    assert prevented_share({"breaker": "composite", "wrongful_liquidated_usd": wrongful}, NONE) == shown


def test_prevented_share__no_baseline_or_nothing_to_prevent():
    assert prevented_share(NONE, NONE) == "-"
    assert prevented_share({"breaker": "composite", "wrongful_liquidated_usd": 0}, None) == "-"
    assert (
        prevented_share(
            {"breaker": "composite", "wrongful_liquidated_usd": 0},
            {"breaker": "none", "wrongful_liquidated_usd": 0},
        )
        == "n/a"
    )
