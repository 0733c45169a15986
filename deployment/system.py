"""Deploy configuration (validated with pydantic) and the deployment itself.

Used by `ape run deploy`, the demo, the benchmarks and the tests: one code path from a YAML
file to a running system. A deployment:

1. deploys the mock venues and feeds a local config asks for (never on a live network),
2. deploys one ReferenceOracle per market, adds its feeds, hands ownership to governance,
3. deploys the CircuitBreaker, registers the markets (with governance's calm depth when the
   config gives one), grants GUARDIAN and KEEPER roles, grants governance and renounces every
   power of the deployer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from deployment.fields import ZERO_ADDRESS, StrictModel, checksum_address
from deployment.integrations import (
    DeployedIntegrations,
    GovernanceConfig,
    IntegrationsConfig,
    deploy_integrations,
    deploy_timelock,
)
from keeper import params as P

WAD = 10**18
GOVERNANCE_ROLE = b"\x00" * 32


class ConfigError(ValueError):
    """A deploy config that cannot be used; the message names the field."""


Address = Annotated[str, Field(description="0x-prefixed address")]

# Largest mock price, depth or feed answer (quote units): 1e18 keeps the 18-decimal value (1e36) well
# under the breaker's venue bound of 2**128 - 1 (about 3.4e38) and the oracle's MAX_PRICE.
MAX_MOCK_VALUE = Decimal(10**18)
# Largest calm depth (whole debt units), on the same grounds.
MAX_CALM_DEPTH = MAX_MOCK_VALUE
# The breaker refuses a calm depth further than this factor from the venue's settled depth
# (CircuitBreaker.MAX_CALM_DEPTH_FACTOR; a test keeps the two equal).
MAX_CALM_DEPTH_FACTOR = 10


def _role(what: str) -> Callable[[type, str], str]:
    """A validator for one role's address: a checksummed, non-zero address."""

    def check(cls: type, value: str) -> str:
        address = checksum_address(value)
        if address == ZERO_ADDRESS:
            raise ValueError(
                f"the zero address cannot be {what}: the deployment would leave the system "
                f"without {what} (give the address that should hold the role)"
            )
        return address

    return check


class MockVenueSpec(StrictModel):
    """A settable venue for local chains (demo, tests)."""

    price: Decimal = Field(gt=0, le=MAX_MOCK_VALUE, description="spot price in quote units")
    depth_usd: Decimal = Field(gt=0, le=MAX_MOCK_VALUE, description="depth within the band, quote units")


class MockFeedSpec(StrictModel):
    """A settable Chainlink-style aggregator for local chains."""

    decimals: int = Field(ge=0, le=36)
    answer: Decimal = Field(gt=0, le=MAX_MOCK_VALUE)


class FeedConfig(StrictModel):
    address: Address | None = None
    mock: MockFeedSpec | None = None
    heartbeat: int = Field(ge=60, le=172_800, description="seconds")

    _check_address = field_validator("address")(lambda cls, v: None if v is None else checksum_address(v))

    @model_validator(mode="after")
    def _one_source(self) -> FeedConfig:
        if (self.address is None) == (self.mock is None):
            raise ValueError("give exactly one of 'address' or 'mock'")
        return self


# Feeds a market's reference oracle needs so that one bad feed is outvoted rather than averaged in.
MIN_FEEDS = 3


class OracleConfig(StrictModel):
    quorum: int = Field(ge=1, le=7)
    max_spread_bps: int = Field(
        default=200,
        ge=10,
        le=5_000,
        description="most a feed may differ from the median of the valid feeds and count",
    )
    feeds: list[FeedConfig] = Field(min_length=1, max_length=7)

    @model_validator(mode="after")
    def _one_feed_cannot_steer(self) -> OracleConfig:
        n = len(self.feeds)
        if self.quorum > n:
            raise ValueError(f"quorum {self.quorum} is more than the {n} feeds configured")
        if n < MIN_FEEDS:
            raise ValueError(
                f"feeds: {n} configured let one bad feed steer the reference (the median of two is their "
                f"mean); configure at least {MIN_FEEDS}"
            )
        if 2 * self.quorum <= n:
            raise ValueError(
                f"quorum: {self.quorum} of {n} feeds is not a majority, so feeds that disagree could each "
                f"make a quorum; set it to at least {n // 2 + 1}"
            )
        return self


class VenueConfig(StrictModel):
    address: Address | None = None
    mock: MockVenueSpec | None = None

    _check_address = field_validator("address")(lambda cls, v: None if v is None else checksum_address(v))

    @model_validator(mode="after")
    def _one_source(self) -> VenueConfig:
        if (self.address is None) == (self.mock is None):
            raise ValueError("give exactly one of 'address' or 'mock'")
        return self


def calm_depth_problem(calm_depth_wad: int, settled_depth_wad: int) -> str | None:
    """Why the breaker would refuse this calm depth next to the venue's settled depth (both 18 decimals), or
    None when it accepts it."""
    factor = MAX_CALM_DEPTH_FACTOR
    if calm_depth_wad <= settled_depth_wad * factor and settled_depth_wad <= calm_depth_wad * factor:
        return None
    return (
        f"{Decimal(calm_depth_wad) / WAD:,f} is not within {factor}x of the venue's settled depth "
        f"{Decimal(settled_depth_wad) / WAD:,f} (the breaker refuses it)"
    )


class MarketConfig(StrictModel):
    name: str = Field(min_length=1, max_length=64)
    venue: VenueConfig
    oracle: OracleConfig
    params: dict[str, int] = Field(default_factory=dict)
    # The R_L baseline's seed. Without it the breaker seeds the settled depth of the registration block,
    # which one block of added or withdrawn liquidity sets: give it for every external venue.
    calm_depth: Decimal | None = Field(
        default=None,
        gt=0,
        le=MAX_CALM_DEPTH,
        decimal_places=18,
        description="the venue's calm depth within depth_band_bps, whole units of the debt asset",
    )

    @field_validator("params")
    @classmethod
    def _params_in_bounds(cls, v: dict[str, int]) -> dict[str, int]:
        P.resolve(v)
        return v

    @field_validator("calm_depth")
    @classmethod
    def _calm_depth_near_mock_depth(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        """A mock venue's depth is known here; an address venue's is read before the first transaction."""
        venue = info.data.get("venue")
        if v is not None and venue is not None and venue.mock is not None:
            problem = calm_depth_problem(_wad(v), _wad(venue.mock.depth_usd))
            if problem:
                raise ValueError(problem)
        return v

    def resolved_params(self) -> dict[str, int]:
        return P.resolve(self.params)


class DeployConfig(StrictModel):
    # An address, or {timelock: {min_delay_s, proposers, executors}} to deploy one that holds every
    # governance power (the guardian stays immediate: it can only tighten).
    governance: Address | GovernanceConfig
    guardian: Address
    keepers: list[Address] = Field(min_length=1)
    markets: list[MarketConfig] = Field(min_length=1)
    integrations: IntegrationsConfig | None = None

    @field_validator("governance", mode="before")
    @classmethod
    def _governance(cls, value: Any) -> Any:
        if isinstance(value, dict):
            try:
                return GovernanceConfig.model_validate(value)
            except ValidationError as exc:  # re-raised as one line naming the field under governance
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                raise ValueError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
        if not isinstance(value, str):  # pydantic reports ValueError (not TypeError) as a field error
            raise ValueError("give an address or {timelock: {min_delay_s, proposers, executors}}")  # noqa: TRY004
        return _role("governance")(cls, value)

    @field_validator("integrations")
    @classmethod
    def _integrations_name_markets(cls, value: IntegrationsConfig | None, info: ValidationInfo) -> Any:
        if value is not None and "markets" in info.data:
            value.check_markets({m.name: len(m.oracle.feeds) for m in info.data["markets"]})
        return value

    @property
    def timelock(self) -> Any:
        """The timelock to deploy, or None when governance is an address."""
        return self.governance.timelock if isinstance(self.governance, GovernanceConfig) else None

    _check_guardian = field_validator("guardian")(_role("guardian"))
    _check_keepers = field_validator("keepers")(lambda cls, v: [_role("a keeper")(cls, a) for a in v])

    @property
    def uses_mocks(self) -> bool:
        return any(m.venue.mock or any(f.mock for f in m.oracle.feeds) for m in self.markets)


def _format_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    return f"{source}: {where}: {message}"


def load_config(path: str | Path) -> DeployConfig:
    """Reads and validates a YAML deploy config; raises ConfigError naming the bad field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"deploy config {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_config(raw, source=str(path))


def parse_config(raw: Any, source: str = "config") -> DeployConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return DeployConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from exc


@dataclass
class DeployedMarket:
    market_id: int
    name: str
    venue: Any
    oracle: Any
    feeds: list[Any] = field(default_factory=list)


@dataclass
class Deployment:
    breaker: Any
    markets: list[DeployedMarket]
    governance: str = ""
    integrations: DeployedIntegrations = field(default_factory=DeployedIntegrations)

    def to_json(self) -> dict[str, Any]:
        return {
            "breaker": str(self.breaker.address),
            "governance": self.governance,
            "integrations": self.integrations.to_json(),
            "markets": [
                {
                    "id": m.market_id,
                    "name": m.name,
                    "venue": str(m.venue.address),
                    "oracle": str(m.oracle.address),
                    "feeds": [str(f.address) for f in m.feeds],
                }
                for m in self.markets
            ],
        }


def _wad(x: Decimal, decimals: int = 18) -> int:
    return int(x * (Decimal(10) ** decimals))


def deploy(config: DeployConfig, deployer: Any, project: Any, *, live: bool = False, log=print) -> Deployment:
    """Deploys the system described by `config` from `deployer` (an ape account).

    `live` refuses mock venues and feeds, which only make sense on a local chain.
    """
    if live and config.uses_mocks:
        raise ConfigError("mock venues and feeds are for local chains only; give addresses on a live network")
    _check_calm_depths(config, project)
    tx = {"sender": deployer}
    timelock = None
    if isinstance(config.governance, GovernanceConfig):
        timelock = deploy_timelock(config.governance.timelock, deployer)
        governance = str(timelock.address)
        log(f"TimelockController {timelock.address} (min delay {config.governance.timelock.min_delay_s} s)")
    else:
        governance = config.governance
    breaker = project.CircuitBreaker.deploy(**tx)
    log(f"CircuitBreaker    {breaker.address}")

    deployed: list[DeployedMarket] = []
    for market in config.markets:
        if market.venue.mock:
            spec = market.venue.mock
            venue = project.MockVenue.deploy(_wad(spec.price), _wad(spec.depth_usd), **tx)
        else:
            assert market.venue.address is not None  # VenueConfig holds exactly one of address and mock
            venue = _at_venue(project, market.venue.address)
        oracle = project.ReferenceOracle.deploy(market.oracle.quorum, **tx)
        feeds = []
        for feed in market.oracle.feeds:
            if feed.mock:
                agg = project.MockAggregator.deploy(
                    feed.mock.decimals, _wad(feed.mock.answer, feed.mock.decimals), **tx
                )
                address = agg.address
                feeds.append(agg)
            else:
                assert feed.address is not None  # FeedConfig holds exactly one of address and mock
                address = feed.address
                feeds.append(_Addressed(address))
            oracle.add_feed(address, feed.heartbeat, **tx)
        oracle.set_max_spread_bps(market.oracle.max_spread_bps, **tx)
        oracle.transfer_ownership(governance, **tx)

        values = market.resolved_params()
        seed = [] if market.calm_depth is None else [_wad(market.calm_depth)]
        receipt = breaker.register_market(venue.address, oracle.address, P.as_array(values), *seed, **tx)
        market_id = receipt.return_value if receipt.return_value is not None else breaker.market_count() - 1
        deployed.append(DeployedMarket(market_id, market.name, venue, oracle, feeds))
        log(f"market {market_id} {market.name}: venue {venue.address}, oracle {oracle.address}")

    guardian_role = breaker.GUARDIAN_ROLE()
    keeper_role = breaker.KEEPER_ROLE()
    breaker.grantRole(guardian_role, config.guardian, **tx)
    for keeper in config.keepers:
        breaker.grantRole(keeper_role, keeper, **tx)
    integrations = DeployedIntegrations(timelock=timelock)
    if config.integrations:
        try:
            integrations = deploy_integrations(
                config.integrations,
                {m.name: m.market_id for m in deployed},
                {m.name: [str(f.address) for f in m.feeds] for m in deployed},
                breaker,
                governance,
                deployer,
                project,
                market_oracles={m.name: m.oracle for m in deployed},
                log=log,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        integrations.timelock = timelock
    if governance != deployer.address:
        breaker.grantRole(GOVERNANCE_ROLE, governance, **tx)
        breaker.renounceRole(GOVERNANCE_ROLE, deployer.address, **tx)
    return Deployment(breaker, deployed, governance, integrations)


def _check_calm_depths(config: DeployConfig, project: Any) -> None:
    """Refuses, before any transaction, a calm depth the breaker would refuse next to an address venue's
    settled depth (a mock venue's is checked with the config)."""
    for index, market in enumerate(config.markets):
        if market.calm_depth is None or market.venue.address is None:
            continue
        band = market.resolved_params()["depth_band_bps"]
        settled = _at_venue(project, market.venue.address).settled_depth(band)
        problem = calm_depth_problem(_wad(market.calm_depth), settled)
        if problem:
            raise ConfigError(f"markets.{index}.calm_depth: {problem}")


@dataclass
class _Addressed:
    address: str


def _at_venue(project: Any, address: str) -> Any:
    """A venue we do not deploy, read through the IVenue ABI."""
    return project.MockVenue.at(address)


def write_deployment(deployment: Deployment, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(deployment.to_json(), indent=2) + "\n")
