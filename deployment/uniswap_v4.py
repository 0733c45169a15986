"""Launch a Uniswap v4 pool guarded by the circuit breaker: mine the hook's CREATE2 salt, deploy
BreakerHookV4 through the deterministic deployment proxy, make it a consumer of the breaker, and
initialize the pool at the reference price.

A v4 pool calls a hook for what the low 14 bits of the hook's address say (Hooks.sol), so the
address is chosen, not given: CREATE2 through the deployment proxy makes it a function of a salt,
and `mine_salt` searches salts until the low bits are exactly `BreakerHookV4.HOOK_FLAGS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_hash.auto import keccak
from eth_utils import is_address, to_bytes, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from devchain.solc import V4_CORE, container

# The deterministic deployment proxy (same address on every chain it is deployed to): calldata is
# salt (32 bytes) ++ init code, it CREATE2s and returns the new address.
CREATE2_DEPLOYER = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
CREATE2_DEPLOYER_RUNTIME = (
    "0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f580151560"
    "39578182fd5b8082525050506014600cf3"
)
ALL_HOOK_MASK = (1 << 14) - 1
# BreakerHookV4's permissions in Hooks.sol's bits: beforeInitialize, beforeSwap, afterSwap (and no
# liquidity or donate hook, so LP exit never calls the hook); the hook's HOOK_FLAGS says the same.
HOOK_FLAGS = (1 << 13) | (1 << 7) | (1 << 6)
# 2**14 flag combinations: a match takes 16 384 salts on average; this bound fails in a fraction of a
# second with a clear error rather than spinning for ever.
MAX_SALTS = 1 << 22
WAD = 10**18


class HookDeployError(RuntimeError):
    """The hook could not be placed at an address with its permission bits; the message says why."""


@dataclass(frozen=True)
class GuardedV4Pool:
    """What `launch_guarded_pool` made: the hook, its pool key (as a tuple for PoolManager calls)."""

    hook: Any
    pool_key: tuple
    salt: bytes
    sqrt_price_x96: int


def create2_address(deployer: str, salt: bytes, init_code: bytes) -> str:
    digest = keccak(b"\xff" + to_bytes(hexstr=deployer) + salt + keccak(init_code))
    return to_checksum_address(digest[12:])


def mine_salt(
    init_code: bytes, flags: int, deployer: str = CREATE2_DEPLOYER, start: int = 0
) -> tuple[bytes, str]:
    """The first salt from `start` whose CREATE2 address has exactly `flags` in its low 14 bits."""
    if flags & ~ALL_HOOK_MASK:
        raise HookDeployError(f"flags {flags:#x} are not hook permission bits (mask {ALL_HOOK_MASK:#x})")
    prefix = b"\xff" + to_bytes(hexstr=deployer)
    code_hash = keccak(init_code)
    for n in range(start, start + MAX_SALTS):
        salt = n.to_bytes(32, "big")
        digest = keccak(prefix + salt + code_hash)
        if int.from_bytes(digest[-2:], "big") & ALL_HOOK_MASK == flags:
            return salt, to_checksum_address(digest[12:])
    raise HookDeployError(f"no salt in [{start}, {start + MAX_SALTS}) gives flags {flags:#x}")


def ensure_create2_deployer(chain, provider) -> None:
    """On a local chain without the proxy (anvil has it by default), put its code in place."""
    if chain.provider.get_code(CREATE2_DEPLOYER):
        return
    if chain.chain_id not in (1337, 31337):
        raise HookDeployError(f"no CREATE2 deployer at {CREATE2_DEPLOYER} on chain {chain.chain_id}")
    provider.make_request("anvil_setCode", [CREATE2_DEPLOYER, CREATE2_DEPLOYER_RUNTIME])


def deploy_pool_manager(owner, sender):
    """A fresh Uniswap v4 PoolManager compiled from the npm sources (local chains)."""
    return container(V4_CORE, "PoolManager").deploy(owner, sender=sender)


def deploy_hook(
    project,
    chain,
    *,
    pool_manager: str,
    breaker: str,
    market_id: int,
    oracle: str,
    collateral: str,
    debt: str,
    collateral_decimals: int,
    debt_decimals: int,
    fee_pips: int,
    tick_spacing: int,
    band_bps: int,
    band_refresh_s: int,
    band_max_age_s: int,
    owner: str,
    sender,
) -> tuple[Any, bytes]:
    """Mines the salt and deploys BreakerHookV4 through the CREATE2 proxy; returns (hook, salt)."""
    ensure_create2_deployer(chain, chain.provider)
    hook_type = project.BreakerHookV4
    args = (
        pool_manager,
        breaker,
        market_id,
        oracle,
        collateral,
        debt,
        collateral_decimals,
        debt_decimals,
        fee_pips,
        tick_spacing,
        band_bps,
        band_refresh_s,
        band_max_age_s,
        owner,
    )
    init_code = init_code_of(hook_type, args)
    salt, address = mine_salt(init_code, HOOK_FLAGS)
    if chain.provider.get_code(address):
        raise HookDeployError(f"a contract already sits at the mined address {address}")
    sender.transfer(CREATE2_DEPLOYER, 0, data=salt + init_code)
    if not chain.provider.get_code(address):
        raise HookDeployError(f"the CREATE2 deployer did not create the hook at {address}")
    hook = hook_type.at(address)
    if hook.HOOK_FLAGS() != HOOK_FLAGS or int(address, 16) & ALL_HOOK_MASK != HOOK_FLAGS:
        raise HookDeployError(f"hook at {address} does not carry flags {HOOK_FLAGS:#x}")
    return hook, salt


def init_code_of(contract_type, args: tuple) -> bytes:
    """Creation code followed by the ABI-encoded constructor arguments (what CREATE2 hashes)."""
    from eth_abi import encode

    inputs = contract_type.contract_type.constructor.inputs
    code = to_bytes(hexstr=contract_type.contract_type.deployment_bytecode.bytecode)
    return code + encode([i.canonical_type for i in inputs], list(args))


def launch_guarded_pool(
    project,
    chain,
    *,
    pool_manager,
    breaker,
    market_id: int,
    oracle,
    collateral,
    debt,
    fee_pips: int,
    tick_spacing: int,
    band_bps: int,
    band_refresh_s: int,
    band_max_age_s: int,
    owner: str,
    governance,
    sender,
    initial_price: Decimal | None = None,
) -> GuardedV4Pool:
    """Deploys the hook, adds it as a consumer of `market_id` (as `governance`, which holds the breaker's
    governance role) and initializes the pool at `initial_price` (debt per collateral; default: the
    reference oracle's price now). The hook refuses an initial price outside its band."""
    hook, salt = deploy_hook(
        project,
        chain,
        pool_manager=pool_manager.address,
        breaker=breaker.address,
        market_id=market_id,
        oracle=oracle.address,
        collateral=collateral.address,
        debt=debt.address,
        collateral_decimals=collateral.decimals(),
        debt_decimals=debt.decimals(),
        fee_pips=fee_pips,
        tick_spacing=tick_spacing,
        band_bps=band_bps,
        band_refresh_s=band_refresh_s,
        band_max_age_s=band_max_age_s,
        owner=owner,
        sender=sender,
    )
    breaker.add_consumer(market_id, hook, sender=governance)
    price = int(initial_price * WAD) if initial_price is not None else oracle.price()
    sqrt_price = hook.sqrt_price_x96_of(price)
    key = tuple(hook.pool_key())
    pool_manager.initialize(key, sqrt_price, sender=sender)
    return GuardedV4Pool(hook=hook, pool_key=key, salt=salt, sqrt_price_x96=sqrt_price)


class UniswapV4HookConfig(BaseModel):
    """One guarded v4 pool in a deploy config. Bounds are BreakerHookV4's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    market: str = Field(
        min_length=1, description="name of the breaker market (in `markets:`) that halts the pool"
    )
    pool_manager: str | None = Field(
        None, description="the chain's PoolManager; empty on a local chain deploys one"
    )
    collateral: str = Field(description="token sold in a crash, priced by the market's reference oracle")
    debt: str = Field(description="quote token")
    fee_pips: int = Field(500, ge=0, le=1_000_000, description="static LP fee, hundredths of a bip")
    tick_spacing: int = Field(10, ge=1, le=32_767)
    band_bps: int = Field(500, ge=10, le=5_000, description="band half-width around the reference")
    band_refresh_s: int = Field(
        60, ge=12, le=3_600, description="age after which a swap re-reads the reference"
    )
    band_max_age_s: int = Field(
        900, ge=60, le=86_400, description="age after which a stale centre stops swaps"
    )
    initial_price: Decimal | None = Field(
        None, gt=0, description="debt per collateral; empty: the reference now"
    )

    @field_validator("pool_manager", "collateral", "debt")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_address(value):
            raise ValueError(f"not an address: {value!r}")
        return to_checksum_address(value)

    @model_validator(mode="after")
    def _consistent(self) -> UniswapV4HookConfig:
        if self.collateral == self.debt:
            raise ValueError("collateral and debt are the same token")
        if self.band_refresh_s > self.band_max_age_s:
            raise ValueError(
                f"band_refresh_s ({self.band_refresh_s}) is above band_max_age_s ({self.band_max_age_s})"
            )
        return self


ERC20_DECIMALS_ABI = [
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    }
]


def deploy_from_config(
    project,
    chain,
    config: UniswapV4HookConfig,
    *,
    breaker,
    market_id: int,
    oracle,
    governance,
    sender,
    owner: str | None = None,
) -> GuardedV4Pool:
    """What a deploy script calls for one `UniswapV4HookConfig`, once the breaker market exists and
    while `governance` still holds the breaker's governance role (it adds the hook as a consumer).
    The hook's owner (band parameters) is `owner`, `governance`'s address when not given."""
    from ape import Contract

    if config.pool_manager is None:
        if chain.chain_id not in (1337, 31337):
            raise HookDeployError("pool_manager is required outside a local chain")
        pool_manager = deploy_pool_manager(sender, sender)
    else:
        pool_manager = chain.contracts.instance_at(
            config.pool_manager, contract_type=container(V4_CORE, "PoolManager").contract_type
        )
    collateral = Contract(config.collateral, abi=ERC20_DECIMALS_ABI)
    debt = Contract(config.debt, abi=ERC20_DECIMALS_ABI)
    return launch_guarded_pool(
        project,
        chain,
        pool_manager=pool_manager,
        breaker=breaker,
        market_id=market_id,
        oracle=oracle,
        collateral=collateral,
        debt=debt,
        fee_pips=config.fee_pips,
        tick_spacing=config.tick_spacing,
        band_bps=config.band_bps,
        band_refresh_s=config.band_refresh_s,
        band_max_age_s=config.band_max_age_s,
        owner=owner or governance.address,
        governance=governance,
        sender=sender,
        initial_price=config.initial_price,
    )
