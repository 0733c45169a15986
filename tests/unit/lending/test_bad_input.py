"""Bad input to LendingMarket: zero, huge and out-of-range amounts, wrong tokens and wrong decimals.

Each case reverts with the market's reason naming what is wrong and moves no funds.
"""

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from tests.unit.lending.conftest import COLL, MAX, PRICE_ORACLE, THRESHOLD_BPS, USDC, lending_params

pytestmark = pytest.mark.bad_input


def balances(market, borrow_token, collateral_token):
    return (
        borrow_token.balanceOf(market),
        collateral_token.balanceOf(market),
        market.cash(),
        market.total_shares(),
        market.total_debt_shares(),
    )


@pytest.fixture
def funded(market, supply, open_position, borrower, lender):
    """A lender's 100,000 USDC supplied and a borrower's 10,000 collateral behind 7,000 USDC of debt."""
    supply(market)
    open_position(market, borrower)
    return market


@pytest.mark.parametrize(
    "call, args, reason",
    [
        ("supply", (0,), "LendingMarket: zero amount"),
        ("withdraw", (0,), "LendingMarket: zero amount"),
        ("redeem", (0,), "LendingMarket: zero amount"),
        ("withdraw", (10**12 * USDC,), "LendingMarket: not enough shares"),
        ("redeem", (10**30,), "LendingMarket: not enough shares"),
    ],
)
def test_lender__bad_amount_reverts(funded, lender, borrow_token, collateral_token, call, args, reason):
    market = funded
    before = balances(market, borrow_token, collateral_token)
    with ape.reverts(reason):
        getattr(market, call)(*args, sender=lender)
    assert balances(market, borrow_token, collateral_token) == before


NEAR_2_256 = [
    ("supply", ("lender", "MAX")),
    ("withdraw", ("lender", "MAX")),
    ("redeem", ("lender", "MAX")),
    ("deposit_collateral", ("borrower", "borrower", "MAX")),
]


def _call_near_2_256(market, borrower, lender, call, spec):
    named = {"borrower": borrower, "lender": lender, "MAX": MAX}
    sender, *args = (named[a] for a in spec)
    return getattr(market, call)(*args, sender=sender)


@pytest.mark.parametrize("call, spec", NEAR_2_256)
def test_amount_near_2_256__names_the_amount_and_moves_nothing(
    funded, borrower, lender, borrow_token, collateral_token, call, spec
):
    before = balances(funded, borrow_token, collateral_token)
    with ape.reverts("LendingMarket: amount out of bounds"):
        _call_near_2_256(funded, borrower, lender, call, spec)
    assert balances(funded, borrow_token, collateral_token) == before


@pytest.mark.parametrize(
    "call, args, reason",
    [
        ("borrow", (0,), "LendingMarket: zero amount"),
        ("borrow", (MAX,), "LendingMarket: not enough idle liquidity"),
        ("borrow", (50_000 * USDC,), "LendingMarket: borrow above max ltv"),
        ("withdraw_collateral", (0,), "LendingMarket: zero amount"),
        ("withdraw_collateral", (MAX,), "LendingMarket: not enough collateral"),
        ("withdraw_collateral", (9_000 * COLL,), "LendingMarket: withdrawal above max ltv"),
        ("repay", ("borrower", 0), "LendingMarket: zero amount"),
        ("repay", ("lender", 1), "LendingMarket: no debt"),  # a position that owes nothing
        ("repay", (ZERO_ADDRESS, MAX), "LendingMarket: no debt"),
        ("deposit_collateral", ("borrower", 0), "LendingMarket: zero amount"),
        ("deposit_collateral", (ZERO_ADDRESS, COLL), "LendingMarket: zero borrower"),
        (
            "deposit_collateral",
            ("lender", 2**128 - 1),
            "erc20: transfer amount exceeds balance",
        ),  # paid by the borrower
    ],
)
def test_borrower__bad_amount_reverts(
    funded, borrower, lender, borrow_token, collateral_token, call, args, reason
):
    named = {"borrower": borrower, "lender": lender}
    args = tuple(named.get(a, a) if isinstance(a, str) else a for a in args)
    before = balances(funded, borrow_token, collateral_token)
    with ape.reverts(reason):
        getattr(funded, call)(*args, sender=borrower)
    assert balances(funded, borrow_token, collateral_token) == before


@pytest.mark.parametrize(
    "args, reason",
    [
        (("borrower", 0), "LendingMarket: zero amount"),
        (("borrower", MAX), "LendingMarket: position is healthy"),  # huge repay is capped, never an overflow
        (("lender", MAX), "LendingMarket: no debt"),
        ((ZERO_ADDRESS, 1), "LendingMarket: no debt"),
    ],
)
def test_liquidate__bad_input_reverts(
    funded, borrower, lender, liquidator, fund, borrow_token, collateral_token, args, reason
):
    fund(funded, liquidator, usdc=10_000 * USDC)
    named = {"borrower": borrower, "lender": lender}
    args = tuple(named.get(a, a) if isinstance(a, str) else a for a in args)
    before = balances(funded, borrow_token, collateral_token)
    with ape.reverts(reason):
        funded.liquidate(*args, sender=liquidator)
    assert balances(funded, borrow_token, collateral_token) == before


def test_liquidate__huge_max_repay_is_capped_at_the_close_factor(
    funded, borrower, liquidator, fund, set_price
):
    fund(funded, liquidator, usdc=10_000 * USDC)
    set_price(0.8)  # 10,000 x 0.8 x 80% = 6,400 < 7,000 of debt: unhealthy
    debt = funded.debt_of(borrower)
    repaid, _ = funded.liquidate(borrower, MAX, sender=liquidator).return_value
    assert repaid == debt * 5_000 // 10_000


@pytest.mark.parametrize("decimals", [19, 36, 255])
@pytest.mark.parametrize("side", ["borrow", "collateral"])
def test_deploy__token_with_wrong_decimals_reverts(
    project, governance, anyone, oracle, side, decimals, borrow_token, collateral_token
):
    # Deployed by another account: reverted deployments reuse the deployer's nonce (see pool/test_deploy.py).
    bad = project.MockLendingToken.deploy("Bad", "BAD", decimals, sender=anyone)
    tokens = (bad, collateral_token) if side == "borrow" else (borrow_token, bad)
    with ape.reverts("LendingMarket: too many decimals"):
        project.LendingMarket.deploy(
            *tokens, PRICE_ORACLE, oracle, ZERO_ADDRESS, 0, THRESHOLD_BPS, lending_params(), sender=governance
        )


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"tokens": "same"}, "LendingMarket: same token twice"),
        ({"tokens": "eoa"}, "LendingMarket: token is not a contract"),
        ({"price_kind": 0}, "LendingMarket: unknown price source kind"),
        ({"price_kind": 3}, "LendingMarket: unknown price source kind"),
        ({"threshold_bps": 0}, "LendingMarket: threshold out of bounds"),
        ({"threshold_bps": MAX}, "LendingMarket: threshold out of bounds"),
        ({"params": {"max_ltv_bps": 0}}, "LendingMarket: parameter 0 out of bounds"),
        ({"params": {"slope_2": MAX}}, "LendingMarket: parameter 5 out of bounds"),
    ],
)
def test_deploy__bad_argument_reverts(
    project, governance, anyone, oracle, borrow_token, collateral_token, overrides, reason
):
    # From governance, which deploys every market: a reverted deployment is decoded with the type ape
    # cached for that address, so it must not be an address where another test deployed a token.
    tokens = {"same": (borrow_token, borrow_token), "eoa": (borrow_token, anyone)}.get(
        overrides.get("tokens"), (borrow_token, collateral_token)
    )
    with ape.reverts(reason):
        project.LendingMarket.deploy(
            *tokens,
            overrides.get("price_kind", PRICE_ORACLE),
            oracle,
            ZERO_ADDRESS,
            0,
            overrides.get("threshold_bps", THRESHOLD_BPS),
            lending_params(**overrides.get("params", {})),
            sender=governance,
        )
