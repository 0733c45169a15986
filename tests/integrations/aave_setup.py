"""A breaker-protected Aave v3 reserve, built the same way on a local chain and on the fork suite.

`protect` takes an Aave market (devchain/aave.py), a breaker market of the collateral and the
collateral's Chainlink feed, and does what docs/integrations.md asks governance to do: deploy a
BreakerFeed and point the collateral's Aave price source at it, deploy the AaveBreakerSteward, grant
it RISK_ADMIN and add it as a consumer of the breaker market.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Aave v3.0 error codes (Errors.sol) the tests expect.
RESERVE_FROZEN = "28"
HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD = "35"
HEALTH_FACTOR_NOT_BELOW_THRESHOLD = "45"
LTV_VALIDATION_FAILED = "57"
# The USDe-like collateral's risk parameters (Aave's USDe listing: LTV 72 %, threshold 75 %, bonus 8.5 %).
USDE_LTV, USDE_THRESHOLD, USDE_BONUS = 7_200, 7_500, 10_850
WAD = 10**18
VARIABLE = 2  # Aave's interest rate mode for variable-rate debt


@dataclass
class ProtectedReserve:
    core: Any  # devchain.aave.AaveCore
    breaker: Any
    market_id: int
    collateral: Any  # the USDe-like token
    debt_asset: Any  # the stable borrowable token
    underlying_feed: Any  # the collateral's Chainlink feed (what a venue crash moves)
    feed: Any  # BreakerFeed, the collateral's Aave price source
    steward: Any  # AaveBreakerSteward

    def config(self) -> tuple[int, int, int, bool]:
        """The collateral reserve's (LTV, liquidation threshold, bonus, frozen) as the pool holds them."""
        word = self.core.pool.getConfiguration(self.collateral).data
        return word & 0xFFFF, (word >> 16) & 0xFFFF, (word >> 32) & 0xFFFF, bool((word >> 57) & 1)

    def health_factor(self, user: Any) -> int:
        return self.core.pool.getUserAccountData(user).healthFactor


def protect(project: Any, core: Any, breaker: Any, market_id: int, collateral: Any, debt_asset: Any,
            underlying_feed: Any, *, deployer: Any, governance: Any, aave_admin: Any) -> ProtectedReserve:
    """Governance's steps: the feed as the collateral's price source, the steward with RISK_ADMIN as a consumer."""
    feed = project.BreakerFeed.deploy(underlying_feed, breaker, market_id, True, sender=deployer)
    feed.transfer_ownership(governance, sender=deployer)
    core.oracle.setAssetSources([collateral], [feed], sender=aave_admin)
    steward = project.AaveBreakerSteward.deploy(breaker, market_id, core.pool, core.configurator, collateral,
                                                sender=deployer)
    core.acl.addRiskAdmin(steward, sender=aave_admin)
    breaker.add_consumer(market_id, steward, sender=governance)
    return ProtectedReserve(core, breaker, market_id, collateral, debt_asset, underlying_feed, feed, steward)


def supply(pool: Any, token: Any, who: Any, amount: int) -> None:
    token.approve(pool, amount, sender=who)
    pool.supply(token, amount, who, 0, sender=who)


def borrow(pool: Any, token: Any, who: Any, amount: int) -> Any:
    return pool.borrow(token, amount, VARIABLE, 0, who, sender=who)
