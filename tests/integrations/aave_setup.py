"""What the Aave tests share: Aave v3.0's error codes and the USDe-like collateral's risk parameters. The
protected reserve itself is built by devchain.aave.protect, the same way on a local chain and on the fork
suite."""

from __future__ import annotations

# Aave v3.0 error codes (Errors.sol) the tests expect.
RESERVE_FROZEN = "28"
HEALTH_FACTOR_NOT_BELOW_THRESHOLD = "45"
LTV_VALIDATION_FAILED = "57"
# The USDe-like collateral's risk parameters (Aave's USDe listing: LTV 72 %, threshold 75 %, bonus 8.5 %).
USDE_LTV, USDE_THRESHOLD, USDE_BONUS = 7_200, 7_500, 10_850
WAD = 10**18
