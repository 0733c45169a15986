"""Mainnet addresses the fork suite uses (from data/oct10-2025/README.md) and its pinned block."""

USDE = "0x4c9EDD5852cd905f086C759E8383e09bff1E68B3"  # 18 decimals
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"  # 6 decimals
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"  # 6 decimals
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
UNISWAP_V2_FACTORY = "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"
CHAINLINK_USDE_USD = "0xa569d910839Ae8865Da8F8e70FfFb0cBA869F961"  # 8 decimals, 0.5% deviation
# The deploy config asks for at least three feeds and a majority quorum. Offline, two more USDe/USD feeds
# stand at these addresses (Chainlink mocks answering as the real feed); online (FORK_RPC_URL), give the
# addresses of two other USDe/USD feeds of that block instead: not done here, the online mode has not been
# run.
USDE_USD_STANDINS = (
    "0x000000000000000000000000000000000000FEeD",
    "0x000000000000000000000000000000000000fEE2",
)
CURVE_USDE_USDC = "0x02950460E2b9529D0E00284A5fA2d7bDF3fA4d72"  # stableswap-ng, A=200, fee 1 bp

# Online mode forks mainnet here: block 23549870 was mined at 21:00:11 UTC on 10 October 2025,
# 36 minutes before the Binance USDe dislocation reached its low.
MAINNET_BLOCK = 23_549_870

# Accounts impersonated on the fork (no keys needed there). Online they hold the tokens on
# mainnet at MAINNET_BLOCK; the offline upstream funds the same addresses with the same tokens.
USDE_WHALE = "0x9D39A5DE30e57443BfF2A8307A4256c8797A3497"  # Ethena sUSDe vault, holds USDe
USDC_WHALE = "0x28C6c06298d514Db089934071355E5743bf21d60"  # a Binance hot wallet, holds USDC
# Governance is a fresh address impersonated on the fork, as a timelock would be.
GOVERNANCE = "0x00000000000000000000000000000000000060E5"
