"""Deploy config and deployment of the breaker's integrations with protocols we do not run, and of the
governance timelock.

`integrations:` names, per breaker market, BreakerFeeds (a Chainlink feed that holds the frozen price
while the market is halted) and Aave v3 stewards (freeze the reserve while the market is not NORMAL).
`governance: {timelock: ...}` deploys OpenZeppelin's TimelockController from its npm build; it then
holds every governance power the deployment hands out. Both sections are optional.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator, model_validator

from deployment.fields import ZERO_ADDRESS, StrictModel, checksum_address
from deployment.uniswap_v4 import UniswapV4HookConfig, deploy_from_config

TIMELOCK_ARTIFACT = "@openzeppelin/contracts/build/contracts/TimelockController.json"
# Timelock delay bounds: at least a minute (a zero delay is no timelock), at most 30 days.
MIN_TIMELOCK_DELAY_S = 60
MAX_TIMELOCK_DELAY_S = 30 * 86_400
# The most feeds and stewards one deployment wires (each is a consumer or a price source of a market).
MAX_INTEGRATIONS = 16


def _nonzero(value: str, what: str) -> str:
    address = checksum_address(value)
    if address == ZERO_ADDRESS:
        raise ValueError(f"the zero address cannot be {what}")
    return address


class BreakerFeedConfig(StrictModel):
    """A BreakerFeed for one market: its underlying Chainlink feed by address, or the market's own oracle
    feed by index (local chains, where the feeds are mocks the deployment creates)."""

    market: str = Field(min_length=1, description="name of a market in markets:")
    underlying: str | None = Field(default=None, description="Chainlink feed address")
    oracle_feed: int | None = Field(
        default=None, ge=0, le=6, description="index into the market's oracle feeds"
    )
    frozen_in_grace: bool = True

    _check_underlying = field_validator("underlying")(
        lambda cls, v: None if v is None else _nonzero(v, "a feed")
    )

    @model_validator(mode="after")
    def _one_source(self) -> BreakerFeedConfig:
        if (self.underlying is None) == (self.oracle_feed is None):
            raise ValueError("give exactly one of 'underlying' or 'oracle_feed'")
        return self


class AaveStewardConfig(StrictModel):
    """An AaveBreakerSteward for one reserve of an Aave v3 market (the pool and configurator are read from
    its PoolAddressesProvider, so they cannot disagree)."""

    market: str = Field(min_length=1, description="name of a market in markets:")
    addresses_provider: str
    asset: str

    _check_provider = field_validator("addresses_provider")(
        lambda cls, v: _nonzero(v, "an addresses provider")
    )
    _check_asset = field_validator("asset")(lambda cls, v: _nonzero(v, "an asset"))


class IntegrationsConfig(StrictModel):
    feeds: list[BreakerFeedConfig] = Field(default_factory=list, max_length=MAX_INTEGRATIONS)
    aave_stewards: list[AaveStewardConfig] = Field(default_factory=list, max_length=MAX_INTEGRATIONS)
    v4_hooks: list[UniswapV4HookConfig] = Field(default_factory=list, max_length=MAX_INTEGRATIONS)

    def check_markets(self, feeds_per_market: dict[str, int]) -> None:
        """Every entry names a configured market (and one of its oracle feeds); no reserve gets two stewards.
        Raises ValueError naming the entry."""
        names = ", ".join(feeds_per_market)
        for section in ("feeds", "aave_stewards", "v4_hooks"):
            for i, entry in enumerate(getattr(self, section)):
                if entry.market not in feeds_per_market:
                    raise ValueError(
                        f"{section}.{i}.market: unknown market {entry.market!r} (markets: {names})"
                    )
        for i, feed in enumerate(self.feeds):
            count = feeds_per_market[feed.market]
            if feed.oracle_feed is not None and feed.oracle_feed >= count:
                raise ValueError(
                    f"feeds.{i}.oracle_feed: market {feed.market!r} has {count} oracle feed(s), "
                    f"numbered from 0 (got {feed.oracle_feed})"
                )
        seen: set[tuple[str, str]] = set()
        for i, steward in enumerate(self.aave_stewards):
            reserve = (steward.addresses_provider, steward.asset)
            if reserve in seen:
                raise ValueError(
                    f"aave_stewards.{i}: a second steward for reserve {steward.asset} of "
                    f"{steward.addresses_provider} (one reserve, one steward)"
                )
            seen.add(reserve)


class TimelockConfig(StrictModel):
    min_delay_s: int = Field(ge=MIN_TIMELOCK_DELAY_S, le=MAX_TIMELOCK_DELAY_S)
    proposers: list[str] = Field(min_length=1, max_length=16)
    executors: list[str] = Field(
        min_length=1, max_length=16, description="the zero address lets anyone execute"
    )

    _check_proposers = field_validator("proposers")(lambda cls, v: [_nonzero(a, "a proposer") for a in v])
    _check_executors = field_validator("executors")(lambda cls, v: [checksum_address(a) for a in v])


class GovernanceConfig(StrictModel):
    timelock: TimelockConfig


@dataclass
class DeployedIntegrations:
    timelock: Any = None
    feeds: list[tuple[str, Any]] = field(default_factory=list)  # (market name, BreakerFeed)
    aave_stewards: list[tuple[str, Any]] = field(default_factory=list)  # (market name, AaveBreakerSteward)
    v4_hooks: list[tuple[str, Any]] = field(default_factory=list)  # (market name, GuardedV4Pool)
    # What governance of the other protocols must still do (a deployer holds none of their roles).
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "timelock": str(self.timelock.address) if self.timelock else None,
            "feeds": [{"market": m, "address": str(f.address)} for m, f in self.feeds],
            "aave_stewards": [{"market": m, "address": str(s.address)} for m, s in self.aave_stewards],
            "v4_hooks": [
                {"market": m, "hook": str(p.hook.address), "pool_key": [str(k) for k in p.pool_key]}
                for m, p in self.v4_hooks
            ],
            "actions": self.actions,
        }


def deploy_timelock(config: TimelockConfig, deployer: Any) -> Any:
    """OpenZeppelin's TimelockController from its npm build, administered by itself alone."""
    from devchain.npm import npm_container

    container = npm_container(TIMELOCK_ARTIFACT, "TimelockController")
    return deployer.deploy(container, config.min_delay_s, config.proposers, config.executors, ZERO_ADDRESS)


def deploy_integrations(
    config: IntegrationsConfig,
    market_ids: dict[str, int],
    market_feeds: dict[str, list[str]],
    breaker: Any,
    governance: str,
    deployer: Any,
    project: Any,
    market_oracles: dict[str, Any] | None = None,
    log=print,
) -> DeployedIntegrations:
    """Deploys the feeds, stewards and Uniswap v4 hooks; adds each steward and hook as a consumer of its
    market (the deployer still holds the breaker's governance role here) and lists what Aave's governance
    must grant. A hook's pool is initialized at its market's reference price unless the config sets one."""
    from devchain.aave import aave_at

    tx = {"sender": deployer}
    done = DeployedIntegrations()
    feed_of: dict[str, Any] = {}
    for feed_entry in config.feeds:
        underlying = feed_entry.underlying
        if underlying is None:
            assert feed_entry.oracle_feed is not None  # BreakerFeedConfig holds exactly one of the two
            underlying = market_feeds[feed_entry.market][feed_entry.oracle_feed]
        feed = project.BreakerFeed.deploy(
            underlying, breaker, market_ids[feed_entry.market], feed_entry.frozen_in_grace, **tx
        )
        feed.transfer_ownership(governance, **tx)
        done.feeds.append((feed_entry.market, feed))
        feed_of.setdefault(feed_entry.market, feed)
        log(f"BreakerFeed        {feed.address} (market {feed_entry.market}, underlying {underlying})")
    for i, entry in enumerate(config.aave_stewards):
        provider = aave_at("PoolAddressesProvider", entry.addresses_provider)
        pool = aave_at("Pool", provider.getPool())
        if pool.getReserveData(entry.asset).aTokenAddress == ZERO_ADDRESS:
            raise ValueError(
                f"integrations.aave_stewards.{i}.asset: {entry.asset} is not a reserve of pool {pool.address}"
            )
        steward = project.AaveBreakerSteward.deploy(
            breaker, market_ids[entry.market], pool, provider.getPoolConfigurator(), entry.asset, **tx
        )
        breaker.add_consumer(market_ids[entry.market], steward, **tx)
        done.aave_stewards.append((entry.market, steward))
        log(f"AaveBreakerSteward {steward.address} (market {entry.market}, reserve {entry.asset})")
        done.actions.append(
            f"Aave ACL admin: ACLManager({provider.getACLManager()}).addRiskAdmin({steward.address})"
        )
        if entry.market in feed_of:
            done.actions.append(
                f"Aave pool admin: AaveOracle({provider.getPriceOracle()}).setAssetSources("
                f"[{entry.asset}], [{feed_of[entry.market].address}])"
            )
    for hook_entry in config.v4_hooks:
        from ape import chain

        if market_oracles is None:
            raise ValueError("integrations.v4_hooks: the markets' reference oracles were not given")
        guarded = deploy_from_config(
            project,
            chain,
            hook_entry,
            breaker=breaker,
            market_id=market_ids[hook_entry.market],
            oracle=market_oracles[hook_entry.market],
            governance=deployer,
            sender=deployer,
            owner=governance,
        )
        done.v4_hooks.append((hook_entry.market, guarded))
        log(
            f"BreakerHookV4      {guarded.hook.address} (market {hook_entry.market}, pool "
            f"{hook_entry.collateral}/{hook_entry.debt})"
        )
    return done
