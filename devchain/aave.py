"""An Aave v3 market on a local chain, from the npm `@aave/core-v3` build artifacts.

`deploy_core` deploys the addresses provider, the ACL manager, the Pool (its logic libraries linked)
and the PoolConfigurator behind Aave's own proxies, the AaveOracle and the token implementations,
exactly as Aave's deploy scripts wire them. `list_reserve` lists an asset with its price source and
risk parameters through the configurator, as a governance payload would.

`protect` does what docs/integrations.md asks governance to do to put a reserve behind the breaker: a
BreakerFeed as its price source and an AaveBreakerSteward holding RISK_ADMIN as a consumer of its market.

`deploy_core(..., at=MAINNET)` places the provider, Pool, PoolConfigurator, ACL manager and oracle at
Aave's Ethereum mainnet addresses (anvil_setCode on a chain with id 1, as the offline fork suite
needs): each is deployed normally, its runtime code is copied to the mainnet address, and its storage
is written by the same initialize calls Aave's deployment makes (the two constructor-set slots the
provider's owner and the ACL admin role need are written by hand).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from devchain.npm import npm_container

CORE = "@aave/core-v3/artifacts/contracts"
LOGIC = f"{CORE}/protocol/libraries/logic"
POOL_LIBRARIES = (
    "SupplyLogic",
    "BorrowLogic",
    "LiquidationLogic",
    "EModeLogic",
    "BridgeLogic",
    "FlashLoanLogic",
    "PoolLogic",
)
# Aave's 18-decimal-free percentages: 10_000 = 100.00 %.
PERCENT = 10_000
RAY = 10**27
# EIP-1967 implementation slot, used by Aave's upgradeability proxies.
IMPLEMENTATION_SLOT = int.from_bytes(keccak(text="eip1967.proxy.implementation"), "big") - 1
# PoolAddressesProvider ids are bytes32 string literals ('POOL'), not hashes.
POOL_ID = b"POOL".ljust(32, b"\0")
POOL_CONFIGURATOR_ID = b"POOL_CONFIGURATOR".ljust(32, b"\0")


@dataclass(frozen=True)
class AaveAddresses:
    """Where the core contracts sit (Aave v3 Ethereum mainnet, or a chain that mirrors it)."""

    provider: str
    pool: str
    configurator: str
    acl_manager: str
    oracle: str


MAINNET = AaveAddresses(
    provider="0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e",
    pool="0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2",
    configurator="0x64b761D848206f447Fe2dd461b0c635Ec39EbB27",
    acl_manager="0xc2aaCf6553D20d1e9d78E365AAba8032af9c85b0",
    oracle="0x54586bE62E3c3580375aE3723C145253060Ca0C2",
)


@dataclass
class AaveCore:
    provider: Any
    acl: Any
    pool: Any
    configurator: Any
    oracle: Any
    atoken_impl: Any
    stable_debt_impl: Any
    variable_debt_impl: Any
    rate_strategy: Any
    admin: Any

    def token(self, kind: str, asset: str) -> Any:
        """The reserve's aToken ("a"), stable ("s") or variable ("v") debt token, through its ABI."""
        data = self.pool.getReserveData(asset)
        address = {
            "a": data.aTokenAddress,
            "s": data.stableDebtTokenAddress,
            "v": data.variableDebtTokenAddress,
        }[kind]
        name = {"a": "AToken", "s": "StableDebtToken", "v": "VariableDebtToken"}[kind]
        return container(f"protocol/tokenization/{name}.sol/{name}.json", name).at(address)


def container(path: str, name: str, libraries: dict[str, str] | None = None) -> Any:
    return npm_container(f"{CORE}/{path}", name, libraries)


# Where each core contract's artifact sits, for reading deployed Aave contracts by name.
ARTIFACTS = {
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol",
    "ACLManager": "protocol/configuration/ACLManager.sol",
    "Pool": "protocol/pool/Pool.sol",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol",
    "AaveOracle": "misc/AaveOracle.sol",
}


def aave_at(name: str, address: str) -> Any:
    """A deployed Aave v3 core contract (any version with the v3.0 ABI subset used here), through its ABI."""
    import json

    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    from devchain.npm import NODE_MODULES

    abi = json.loads((NODE_MODULES / CORE / ARTIFACTS[name] / f"{name}.json").read_text())["abi"]
    return ContractContainer(ContractType.model_validate({"contractName": name, "abi": abi})).at(address)


def _library(admin: Any, name: str, libraries: dict[str, str] | None = None) -> str:
    return str(
        admin.deploy(container(f"protocol/libraries/logic/{name}.sol/{name}.json", name, libraries)).address
    )


def deploy_core(
    admin: Any, *, at: AaveAddresses | None = None, market_id: str = "Breaker market"
) -> AaveCore:
    """Deploys the market's core from `admin`, who ends up ACL admin, pool admin and provider owner."""
    from ape import chain

    tx = {"sender": admin}
    provider_type = container(
        "protocol/configuration/PoolAddressesProvider.sol/PoolAddressesProvider.json", "PoolAddressesProvider"
    )
    provider = admin.deploy(provider_type, market_id, admin)
    if at:
        provider = _place(chain, provider, at.provider, provider_type)
        chain.provider.set_storage(at.provider, 0, _word(int(admin.address, 16)))  # Ownable._owner
    provider.setACLAdmin(admin, **tx)

    acl_type = container("protocol/configuration/ACLManager.sol/ACLManager.json", "ACLManager")
    acl = admin.deploy(acl_type, provider)
    if at:
        acl = _place(chain, acl, at.acl_manager, acl_type)
        # AccessControl._roles[DEFAULT_ADMIN_ROLE].members[admin] = true, as the constructor set it.
        role_slot = keccak(b"\x00" * 32 + b"\x00" * 32)
        chain.provider.set_storage(
            at.acl_manager, int.from_bytes(keccak(_word(int(admin.address, 16)) + role_slot), "big"), _word(1)
        )
    provider.setACLManager(acl, **tx)
    acl.addPoolAdmin(admin, **tx)
    acl.addAssetListingAdmin(admin, **tx)

    libraries = {
        name: _library(admin, name)
        for name in (
            "SupplyLogic",
            "BorrowLogic",
            "LiquidationLogic",
            "EModeLogic",
            "BridgeLogic",
            "PoolLogic",
        )
    }
    libraries["FlashLoanLogic"] = _library(admin, "FlashLoanLogic", {"BorrowLogic": libraries["BorrowLogic"]})
    pool_type = container("protocol/pool/Pool.sol/Pool.json", "Pool", libraries)
    pool_impl = admin.deploy(pool_type, provider)
    pool_impl.initialize(provider, **tx)
    configurator_type = container(
        "protocol/pool/PoolConfigurator.sol/PoolConfigurator.json",
        "PoolConfigurator",
        {"ConfiguratorLogic": _library(admin, "ConfiguratorLogic")},
    )
    configurator_impl = admin.deploy(configurator_type)
    configurator_impl.initialize(provider, **tx)
    if at:
        pool = _proxy_at(chain, admin, provider, pool_impl, at.pool, pool_type)
        pool.initialize(provider, **tx)
        provider.setAddress(POOL_ID, pool, **tx)
        configurator = _proxy_at(
            chain, admin, provider, configurator_impl, at.configurator, configurator_type
        )
        configurator.initialize(provider, **tx)
        provider.setAddress(POOL_CONFIGURATOR_ID, configurator, **tx)
    else:
        provider.setPoolImpl(pool_impl, **tx)
        provider.setPoolConfiguratorImpl(configurator_impl, **tx)
        pool = pool_type.at(provider.getPool())
        configurator = configurator_type.at(provider.getPoolConfigurator())

    oracle_type = container("misc/AaveOracle.sol/AaveOracle.json", "AaveOracle")
    # Base currency USD: address(0) with 8-decimal prices, as on Aave's Ethereum market.
    oracle = admin.deploy(oracle_type, provider, [], [], "0x" + "00" * 20, "0x" + "00" * 20, 10**8)
    if at:
        oracle = _place(chain, oracle, at.oracle, oracle_type)
    provider.setPriceOracle(oracle, **tx)

    atoken = admin.deploy(container("protocol/tokenization/AToken.sol/AToken.json", "AToken"), pool)
    stable = admin.deploy(
        container("protocol/tokenization/StableDebtToken.sol/StableDebtToken.json", "StableDebtToken"), pool
    )
    variable = admin.deploy(
        container("protocol/tokenization/VariableDebtToken.sol/VariableDebtToken.json", "VariableDebtToken"),
        pool,
    )
    # Optimal usage 80 %, variable rate 0 % + 4 % to the kink, +75 % above it (a stablecoin's curve).
    strategy = admin.deploy(
        container(
            "protocol/pool/DefaultReserveInterestRateStrategy.sol/DefaultReserveInterestRateStrategy.json",
            "DefaultReserveInterestRateStrategy",
        ),
        provider,
        8 * RAY // 10,
        0,
        4 * RAY // 100,
        75 * RAY // 100,
        0,
        0,
        0,
        0,
        0,
    )
    return AaveCore(provider, acl, pool, configurator, oracle, atoken, stable, variable, strategy, admin)


def attach_core(at: AaveAddresses, admin: Any) -> AaveCore:
    """A market already deployed at `at` (Aave's mainnet market on a fork), driven by `admin`, an account
    holding the ACL admin role there; it makes itself pool admin, as a governance payload executor is."""
    acl = aave_at("ACLManager", at.acl_manager)
    acl.addPoolAdmin(admin, sender=admin)
    return AaveCore(
        aave_at("PoolAddressesProvider", at.provider),
        acl,
        aave_at("Pool", at.pool),
        aave_at("PoolConfigurator", at.configurator),
        aave_at("AaveOracle", at.oracle),
        None,
        None,
        None,
        None,
        admin,
    )


def list_reserve(
    core: AaveCore,
    asset: Any,
    source: Any,
    *,
    ltv: int = 0,
    threshold: int = 0,
    bonus: int = 0,
    borrowing: bool = False,
    symbol: str = "",
) -> None:
    """Lists `asset` priced by `source` (a Chainlink-compatible feed in USD, 8 decimals). A non-zero
    `threshold` makes it collateral (LTV, threshold and bonus in bps of 10_000); `borrowing` lets it be
    borrowed."""
    tx = {"sender": core.admin}
    symbol = symbol or asset.symbol()
    core.oracle.setAssetSources([asset], [source], **tx)
    core.configurator.initReserves(
        [
            (
                core.atoken_impl,
                core.stable_debt_impl,
                core.variable_debt_impl,
                asset.decimals(),
                core.rate_strategy,
                asset,
                core.admin,
                "0x" + "00" * 20,
                f"Aave {symbol}",
                f"a{symbol}",
                f"Aave variable debt {symbol}",
                f"variableDebt{symbol}",
                f"Aave stable debt {symbol}",
                f"stableDebt{symbol}",
                b"",
            )
        ],
        **tx,
    )
    if threshold:
        core.configurator.configureReserveAsCollateral(asset, ltv, threshold, bonus, **tx)
    if borrowing:
        core.configurator.setReserveBorrowing(asset, True, **tx)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _place(chain: Any, deployed: Any, at: str, contract_type: Any) -> Any:
    """Copies a deployed contract's runtime code to `at`; returns it there."""
    chain.provider.set_code(at, chain.provider.get_code(deployed.address))
    return contract_type.at(at)


def _proxy_at(chain: Any, admin: Any, provider: Any, implementation: Any, at: str, contract_type: Any) -> Any:
    """Aave's InitializableImmutableAdminUpgradeabilityProxy (admin: the provider) at `at`, pointing at
    `implementation`; its storage is then initialised through the proxy."""
    proxy_type = container(
        "protocol/libraries/aave-upgradeability/InitializableImmutableAdminUpgradeabilityProxy.sol/"
        "InitializableImmutableAdminUpgradeabilityProxy.json",
        "InitializableImmutableAdminUpgradeabilityProxy",
    )
    proxy = admin.deploy(proxy_type, provider)
    chain.provider.set_code(at, chain.provider.get_code(proxy.address))
    chain.provider.set_storage(at, IMPLEMENTATION_SLOT, _word(int(implementation.address, 16)))
    return contract_type.at(at)


VARIABLE = 2  # Aave's interest rate mode for variable-rate debt


@dataclass
class ProtectedReserve:
    core: AaveCore
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


def protect(
    project: Any,
    core: AaveCore,
    breaker: Any,
    market_id: int,
    collateral: Any,
    debt_asset: Any,
    underlying_feed: Any,
    *,
    deployer: Any,
    governance: Any,
    aave_admin: Any,
    frozen_in_grace: bool = True,
) -> ProtectedReserve:
    """Governance's steps: the feed as the collateral's price source, the steward with RISK_ADMIN as a
    consumer."""
    feed = project.BreakerFeed.deploy(underlying_feed, breaker, market_id, frozen_in_grace, sender=deployer)
    feed.transfer_ownership(governance, sender=deployer)
    core.oracle.setAssetSources([collateral], [feed], sender=aave_admin)
    steward = project.AaveBreakerSteward.deploy(
        breaker, market_id, core.pool, core.configurator, collateral, sender=deployer
    )
    core.acl.addRiskAdmin(steward, sender=aave_admin)
    breaker.add_consumer(market_id, steward, sender=governance)
    return ProtectedReserve(core, breaker, market_id, collateral, debt_asset, underlying_feed, feed, steward)


def supply(pool: Any, token: Any, who: Any, amount: int) -> Any:
    token.approve(pool, amount, sender=who)
    return pool.supply(token, amount, who, 0, sender=who)


def borrow(pool: Any, token: Any, who: Any, amount: int) -> Any:
    return pool.borrow(token, amount, VARIABLE, 0, who, sender=who)
