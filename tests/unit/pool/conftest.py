"""Pool fixtures: tokens (collateral 18 decimals, debt 6), a pool factory with defaults, actors
by role, and the integer math of the pool mirrored in Python for expected values."""

from __future__ import annotations

import pytest
from ape.utils import ZERO_ADDRESS

from tests.constants import NORMAL
from tests.helpers import MAX_UINT256 as MAX  # noqa: F401 (the tests import MAX from here)

COL = 10**18  # one collateral unit (18 decimals)
USD = 10**6  # one debt unit (6 decimals)
WAD = 10**18
BPS = 10_000
PRICE = 2_000  # debt per collateral: the reference price the pool is seeded at
SEED_COL = 1_000  # whole collateral units the lp deposits
DEADLINE = 2**64
FEE_BPS, BAND_BPS, REFRESH_S, MAX_AGE_S = 30, 500, 60, 900

# Constructor argument order of GuardedPool.
POOL_ARGS = (
    "collateral",
    "debt",
    "fee_bps",
    "breaker",
    "market_id",
    "oracle",
    "band_bps",
    "band_refresh_s",
    "band_max_age_s",
    "owner",
    "name",
    "symbol",
)


def amount_out(amount_in: int, r_in: int, r_out: int, fee_bps: int = FEE_BPS) -> int:
    """`GuardedPool._amount_out`: x * y = k, fee on the input, rounded down."""
    in_after_fee = amount_in * (BPS - fee_bps)
    return in_after_fee * r_out // (r_in * BPS + in_after_fee)


def price(x: int, y: int, col_scale: int = 1, debt_scale: int = 10**12) -> int:
    """Spot price Y * 1e18 / X (18 decimals), rounded down."""
    return y * debt_scale * WAD // (x * col_scale)


@pytest.fixture(scope="session")
def lp(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def trader(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def other_lp(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def create_token(project, deployer):
    def create_token(symbol: str = "TKN", decimals: int = 18):
        return project.MockERC20.deploy(f"Mock {symbol}", symbol, decimals, sender=deployer)

    return create_token


@pytest.fixture(scope="session")
def collateral(create_token):
    return create_token("COL", 18)


@pytest.fixture(scope="session")
def debt(create_token):
    return create_token("USD", 6)


@pytest.fixture(scope="session")
def pool_feed(create_feed):
    return create_feed(answer=PRICE)


@pytest.fixture(scope="session")
def pool_oracle(create_oracle, pool_feed):
    return create_oracle([pool_feed])


@pytest.fixture(scope="session")
def create_pool(project, deployer, governance, collateral, debt, breaker, market_id, pool_oracle):
    """A GuardedPool with the default parameters; keyword overrides by constructor name."""

    def create_pool(**overrides):
        args = {
            "collateral": collateral,
            "debt": debt,
            "fee_bps": FEE_BPS,
            "breaker": breaker,
            "market_id": market_id,
            "oracle": pool_oracle,
            "band_bps": BAND_BPS,
            "band_refresh_s": REFRESH_S,
            "band_max_age_s": MAX_AGE_S,
            "owner": governance,
            "name": "GuardedPool LP",
            "symbol": "GPLP",
        }
        unknown = set(overrides) - set(args)
        assert not unknown, f"unknown pool argument {unknown}"
        args.update(overrides)
        return project.GuardedPool.deploy(*(args[k] for k in POOL_ARGS), sender=deployer)

    return create_pool


@pytest.fixture(scope="session")
def seeded_pool(create_pool, fund, breaker, market_id, governance, lp, trader, collateral, debt):
    """The guarded pool: consumer of the breaker's market, seeded by `lp` at PRICE; trader funded."""
    pool = create_pool()
    fund(lp, pool, (collateral, 10 * SEED_COL * COL), (debt, 10 * SEED_COL * PRICE * USD))
    pool.add_liquidity(SEED_COL * COL, SEED_COL * PRICE * USD, 0, DEADLINE, sender=lp)
    fund(trader, pool, (collateral, 1_000 * COL), (debt, 2_000_000 * USD))
    breaker.add_consumer(market_id, pool, sender=governance)
    assert pool.breaker_state() == NORMAL
    return pool


@pytest.fixture
def pool(seeded_pool, anyone):
    """The guarded pool with its band centre read in this test (the session's may be stale)."""
    seeded_pool.refresh_band(sender=anyone)
    return seeded_pool


@pytest.fixture(scope="session")
def unguarded_pool(create_pool, fund, lp, trader, collateral, debt):
    """The same code with no breaker and no oracle, seeded like the guarded one."""
    pool = create_pool(breaker=ZERO_ADDRESS, market_id=0, oracle=ZERO_ADDRESS)
    fund(lp, pool, (collateral, 10 * SEED_COL * COL), (debt, 10 * SEED_COL * PRICE * USD))
    pool.add_liquidity(SEED_COL * COL, SEED_COL * PRICE * USD, 0, DEADLINE, sender=lp)
    fund(trader, pool, (collateral, 1_000 * COL), (debt, 2_000_000 * USD))
    return pool
