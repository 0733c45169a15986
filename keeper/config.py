"""Keeper configuration: a YAML file plus `KEEPER_*` environment variables, validated with pydantic.

Environment variables win over the file. Nested fields use `__`
(`KEEPER_FEES__MAX_FEE_GWEI=300`); lists take JSON or a comma-separated string
(`KEEPER_RPC_URLS=http://a:8545,http://b:8545`). Secrets come from the environment only:
`KEEPER_PRIVATE_KEY`, or `KEEPER_KEYSTORE_PASSWORD` for the keystore file named by
`keystore_path`. They are `SecretStr`: never printed, logged or dumped.

`load_settings` raises one `ConfigError` naming the first bad field and what is expected.
"""

from __future__ import annotations

import contextvars
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "KEEPER_"
SECRET_FIELDS = ("private_key", "keystore_password", "remote_signer_url", "webhook_url")
# Secrets refused in the YAML file (a URL with a token may live there; a key or password never does).
ENV_ONLY_SECRETS = ("private_key", "keystore_password")
_YAML_PATH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("keeper_yaml_path", default=None)
# False for read-only commands (`status`, `check`): they run without a key.
_REQUIRE_KEY: contextvars.ContextVar[bool] = contextvars.ContextVar("keeper_require_key", default=True)


class ConfigError(ValueError):
    """A keeper config that cannot be used; the message names the field and what is expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _address(value: Any) -> ChecksumAddress:
    from eth_utils import is_address

    if not isinstance(value, str) or not is_address(value):
        raise ValueError("expected a 0x-prefixed 20-byte address")
    return to_checksum_address(value)


def _split_list(value: Any) -> Any:
    """Lists from the environment: JSON (`["a","b"]`) or comma-separated (`a,b`)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def redact_url(url: str) -> str:
    """scheme://host:port only: RPC URLs often carry an API key in the path or query."""
    parts = urlsplit(str(url))
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class CexVenue(_Strict):
    """One off-chain venue the keeper reads through ccxt (or the replay source)."""

    exchange: str = Field(min_length=2, max_length=40, description="ccxt exchange id, e.g. binance")
    symbol: str = Field(min_length=3, description="spot symbol, e.g. USDE/USDT")
    weight: float = Field(default=1.0, gt=0, le=1_000, description="weight in the reference index")
    perp_symbol: str | None = Field(default=None, description="perpetual for open interest and basis")
    calm_depth_usd: float | None = Field(
        default=None, gt=0, description="median calm depth within the band (R_L baseline)"
    )


class LceModel(_Strict):
    """How the keeper turns positions and open interest into liquidation-cluster exposure."""

    move_bps: int = Field(default=1_000, ge=10, le=5_000, description="the next x% move LCE looks at")
    oi_long_share: float = Field(default=0.5, ge=0, le=1, description="share of open interest that is long")
    leverage_shares: dict[float, float] = Field(
        default_factory=lambda: {2.0: 0.3, 5.0: 0.4, 10.0: 0.2, 25.0: 0.1},
        description="leverage -> share of open interest at that leverage (shares sum to 1)",
    )
    maintenance_margin_bps: int = Field(default=50, ge=0, le=2_000)
    positions_file: Path | None = Field(
        default=None, description="CSV of lending positions: collateral, debt, liquidation_threshold_bps"
    )
    safe_bps: int | None = Field(
        default=None,
        ge=0,
        description="LCE below which the keeper resumes (default: half the critical level)",
    )
    lending_market: str | None = Field(
        default=None, description="LendingMarket whose events give the positions (instead of positions_file)"
    )
    from_block: int = Field(
        default=0, ge=0, description="first block to read the lending market's events from (its deployment)"
    )
    log_page_blocks: int = Field(
        default=2_000,
        ge=1,
        le=1_000_000,
        description="blocks per eth_getLogs call (halved when a node refuses)",
    )
    reorg_margin_blocks: int = Field(
        default=5, ge=0, le=1_000, description="newest blocks re-read every cycle, never confirmed"
    )

    @field_validator("lending_market")
    @classmethod
    def _lending_market(cls, v: str | None) -> str | None:
        return None if v is None else _address(v)

    @model_validator(mode="after")
    def _one_positions_source(self) -> LceModel:
        if self.lending_market is not None and self.positions_file is not None:
            raise ValueError("give either positions_file or lending_market, not both")
        return self

    @field_validator("leverage_shares")
    @classmethod
    def _shares(cls, v: dict[float, float]) -> dict[float, float]:
        if not v:
            raise ValueError("give at least one leverage bucket")
        if any(lev < 1 for lev in v) or any(s < 0 for s in v.values()):
            raise ValueError("leverage must be >= 1 and shares >= 0")
        total = sum(v.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"shares must sum to 1 (they sum to {total:g})")
        return v


class MarketSettings(_Strict):
    id: int = Field(ge=0, description="market id in the CircuitBreaker")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-/]+$")
    cex: list[CexVenue] = Field(default_factory=list)
    lce: LceModel = Field(default_factory=LceModel)
    poke: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="`poke(id)`: V_P observations unless the venue is a guarded pool that records its own "
        "block starts (auto) or always, and depth samples in both; never: no pokes at all",
    )


# Largest fee cap accepted (gwei): far above any fee paid on mainnet, and far below a cap written in wei by
# mistake (500 gwei written in wei is 500,000,000,000).
MAX_FEE_CAP_GWEI = Decimal(10_000)


class FeeSettings(_Strict):
    """EIP-1559 fees from eth_feeHistory, scaled by urgency, capped."""

    history_blocks: int = Field(default=10, ge=1, le=1_024)
    reward_percentile: float = Field(default=60, ge=0, le=100)
    urgency_trip: float = Field(
        default=2.0, ge=1, le=20, description="tip multiplier for trips and extensions"
    )
    urgency_resume: float = Field(
        default=1.0, ge=1, le=20, description="tip multiplier for resumes, syncs, settlements and pokes"
    )
    base_fee_multiplier: float = Field(default=2.0, ge=1, le=10, description="max fee = base x this + tip")
    min_priority_gwei: Decimal = Field(default=Decimal("0.1"), ge=0)
    max_priority_gwei: Decimal = Field(default=Decimal(50), gt=0)
    max_fee_gwei: Decimal = Field(default=Decimal(500), gt=0, description="hard cap on maxFeePerGas")
    replace_after_blocks: int = Field(default=3, ge=1, le=100)
    bump_percent: int = Field(
        default=12,
        ge=10,
        le=200,
        description="raise both fee fields by this much on replacement (geth: >= 10)",
    )
    gas_margin_percent: int = Field(default=30, ge=0, le=300)
    poke_max_fee_gwei: Decimal | None = Field(
        default=None,
        gt=0,
        description="a poke is not sent while the next block's base fee plus tip exceeds this, and its max "
        "fee stays under it (default: as other transactions, under max_fee_gwei)",
    )

    @field_validator("max_priority_gwei", "max_fee_gwei", "poke_max_fee_gwei")
    @classmethod
    def _cap_in_gwei(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v > MAX_FEE_CAP_GWEI:
            raise ValueError(
                f"must be at most {MAX_FEE_CAP_GWEI:,} gwei; the value is in gwei, not wei (got {v:,})"
            )
        return v

    @model_validator(mode="after")
    def _caps(self) -> FeeSettings:
        if self.min_priority_gwei > self.max_priority_gwei:
            raise ValueError("min_priority_gwei must not exceed max_priority_gwei")
        if self.max_priority_gwei > self.max_fee_gwei:
            raise ValueError("max_priority_gwei must not exceed max_fee_gwei")
        if self.poke_max_fee_gwei is not None and self.poke_max_fee_gwei > self.max_fee_gwei:
            raise ValueError("poke_max_fee_gwei must not exceed max_fee_gwei")
        from keeper.fees import GWEI, REPLACEMENTS_RESERVED, first_send_ceiling

        ceiling = first_send_ceiling(int(self.max_fee_gwei * GWEI), self.bump_percent) / GWEI
        if ceiling < self.max_priority_gwei:
            raise ValueError(
                f"max_fee_gwei {self.max_fee_gwei} leaves a first send at most {ceiling:.3f} gwei once "
                f"{REPLACEMENTS_RESERVED} replacements at +{self.bump_percent}% are reserved, below "
                f"max_priority_gwei {self.max_priority_gwei}: raise max_fee_gwei or lower max_priority_gwei"
            )
        return self


class Thresholds(_Strict):
    """Data quality and keeper-side timing. Trip and resume levels come from the contract's params."""

    max_age_s: float = Field(default=30, gt=0, le=3_600, description="older off-chain data is rejected")
    outlier_bps: int = Field(
        default=200, ge=1, le=5_000, description="a source this far from the median of sources is rejected"
    )
    min_sources: int = Field(default=1, ge=1, le=20, description="fewest valid sources for an index price")
    extend_lead_s: int = Field(
        default=30, ge=1, le=3_600, description="extend when the halt ends within this"
    )


class KeeperSettings(BaseSettings):
    """Everything `python -m keeper` needs. See docs/keeper.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True, validate_default=True
    )

    breaker: ChecksumAddress = Field(description="CircuitBreaker address")
    chain_id: int | None = Field(default=None, ge=1, description="refuse to run on another chain")
    rpc_urls: Annotated[list[AnyHttpUrl], NoDecode] = Field(min_length=1, max_length=10)
    ws_url: str | None = Field(
        default=None, description="WebSocket endpoint for new heads (eth_subscribe); polling without it"
    )
    private_relay_url: AnyHttpUrl | None = Field(default=None, description="send raw transactions here only")
    relay_fallback_public: bool = Field(default=False, description="use the public RPCs when the relay fails")
    markets: list[MarketSettings] = Field(min_length=1)
    fees: FeeSettings = Field(default_factory=FeeSettings)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    keystore_path: Path | None = None
    keystore_password: SecretStr | None = None
    keystore_password_file: Path | None = Field(
        default=None, description="file holding the keystore password"
    )
    private_key: SecretStr | None = None
    private_key_file: Path | None = Field(
        default=None, description="file holding the hex key (Docker/K8s secret)"
    )
    remote_signer_url: SecretStr | None = Field(
        default=None,
        description="JSON-RPC signer (web3signer, Clef) answering eth_signTransaction for from_address",
    )
    from_address: ChecksumAddress | None = Field(
        default=None,
        description="the remote signer's account; or, in a dry run without a key, simulate as this",
    )

    dry_run: bool = False
    defer_blocks: int = Field(
        default=0,
        ge=0,
        le=100,
        description="a secondary keeper (own key) waits this many blocks after an action becomes due, and "
        "acts only if no other keeper's transaction did it meanwhile; 0 for the primary",
    )
    foreign_wait_blocks: int = Field(
        default=2,
        ge=0,
        le=50,
        description="blocks to wait on someone else's pending transaction that does the keeper's job",
    )
    sweep_after_blocks: int = Field(
        default=1,
        ge=0,
        le=50,
        description="blocks before a pending nonce the journal does not know is cancelled",
    )
    low_balance_eth: Decimal = Field(default=Decimal("0.05"), ge=0, description="below this, /health fails")
    max_head_lag_blocks: int = Field(
        default=3, ge=1, le=1_000, description="fail over from an endpoint this many blocks behind another"
    )
    head_stall_s: float = Field(
        default=60.0,
        gt=0,
        le=3_600,
        description="fail over from an endpoint whose head has not moved this long",
    )
    health_max_stuck_blocks: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="/health fails when a transaction is in flight this many blocks",
    )
    health_max_head_age_s: float = Field(
        default=120.0, gt=0, description="/health fails when the latest block is older than this"
    )
    webhook_url: SecretStr | None = Field(
        default=None, description="POST trip sent / trip landed / unhealthy events here (the URL is a secret)"
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    offchain_deadline_s: float = Field(
        default=1.0, gt=0, le=60, description="a cycle waits this long for CEX and lending data, then decides"
    )
    simulate_block: Literal["pending", "latest"] = "pending"
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    idle_cycle_s: float = Field(default=12.0, gt=0, le=600, description="cycle at least this often")
    rpc_timeout_s: float = Field(default=5.0, gt=0, le=120)
    params_refresh_s: float = Field(default=300.0, gt=0, description="re-read on-chain parameters this often")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9_108, ge=0, le=65_535, description="0 disables metrics and health")
    health_max_age_s: float = Field(default=60.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    state_dir: Path = Field(
        default=Path("keeper-state"),
        description="journal of in-flight transactions, lending cursors and positions",
    )
    build_path: Path | None = Field(default=None, description="ape build output with the ABIs")

    _check_breaker = field_validator("breaker")(lambda cls, v: _address(v))

    @field_validator("from_address")
    @classmethod
    def _from(cls, v: str | None) -> ChecksumAddress | None:
        return None if v is None else _address(v)

    @field_validator("rpc_urls", mode="before")
    @classmethod
    def _urls(cls, v: Any) -> Any:
        return _split_list(v)

    @field_validator("private_key")
    @classmethod
    def _key_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None:
            return v
        raw = v.get_secret_value().strip()
        hexpart = raw.removeprefix("0x")
        if len(hexpart) != 64 or any(c not in "0123456789abcdefABCDEF" for c in hexpart):
            raise ValueError("expected 32 bytes of hex (64 hex digits, optional 0x)")
        return SecretStr("0x" + hexpart)

    @field_validator("ws_url")
    @classmethod
    def _ws(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in ("ws", "wss"):
            raise ValueError("expected a ws:// or wss:// URL")
        return v

    @field_validator("remote_signer_url")
    @classmethod
    def _signer_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and urlsplit(v.get_secret_value()).scheme not in ("http", "https"):
            raise ValueError("expected an http(s) URL")
        return v

    @property
    def key_sources(self) -> list[str]:
        given = {
            "KEEPER_PRIVATE_KEY": self.private_key,
            "private_key_file": self.private_key_file,
            "keystore_path": self.keystore_path,
            "remote_signer_url": self.remote_signer_url,
        }
        return [name for name, value in given.items() if value is not None]

    @model_validator(mode="after")
    def _key_source(self) -> KeeperSettings:
        sources = self.key_sources
        if len(sources) > 1:
            raise ValueError(f"give one signing key source, not {' and '.join(sources)}")
        for name in ("keystore_path", "private_key_file", "keystore_password_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name} {path} does not exist")
        if self.keystore_password is not None and self.keystore_password_file is not None:
            raise ValueError("give either KEEPER_KEYSTORE_PASSWORD or keystore_password_file, not both")
        if (
            self.keystore_path is not None
            and self.keystore_password is None
            and self.keystore_password_file is None
        ):
            raise ValueError(
                "keystore_path needs the password in KEEPER_KEYSTORE_PASSWORD or keystore_password_file"
            )
        if self.remote_signer_url is not None and self.from_address is None:
            raise ValueError(
                "remote_signer_url needs from_address: the signer's account the keeper sends from"
            )
        if not sources and not self.dry_run and _REQUIRE_KEY.get():
            raise ValueError(
                "no signing key: set KEEPER_PRIVATE_KEY, private_key_file, keystore_path with "
                "KEEPER_KEYSTORE_PASSWORD or keystore_password_file, or remote_signer_url with from_address "
                "(or run with dry_run and from_address)"
            )
        ids = [m.id for m in self.markets]
        if len(ids) != len(set(ids)):
            raise ValueError("market ids must be unique")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _YAML_PATH.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    def __repr__(self) -> str:
        # RPC URLs may carry API keys and secrets must never show: print the redacted summary only.
        return f"KeeperSettings({self.public_summary()})"

    __str__ = __repr__

    @property
    def market_ids(self) -> list[int]:
        return [m.id for m in self.markets]

    def market(self, market_id: int) -> MarketSettings:
        for m in self.markets:
            if m.id == market_id:
                return m
        raise KeyError(f"market {market_id} is not configured")

    def public_summary(self) -> dict[str, Any]:
        """What `keeper check` prints: no secrets, RPC URLs without paths or keys."""
        return {
            "breaker": self.breaker,
            "chain_id": self.chain_id,
            "rpc_urls": [redact_url(str(u)) for u in self.rpc_urls],
            "private_relay": redact_url(str(self.private_relay_url)) if self.private_relay_url else None,
            "ws": redact_url(self.ws_url) if self.ws_url else None,
            "markets": [
                {"id": m.id, "name": m.name, "cex": [c.exchange for c in m.cex]} for m in self.markets
            ],
            "key_source": (
                "keystore"
                if self.keystore_path
                else "file"
                if self.private_key_file
                else "remote"
                if self.remote_signer_url
                else "env"
                if self.private_key
                else "none"
            ),
            "dry_run": self.dry_run,
            "metrics": f"{self.metrics_host}:{self.metrics_port}" if self.metrics_port else "off",
        }


def _format_one(error: Any, source: str) -> str:
    loc = [str(part) for part in error["loc"]]
    where = ".".join(loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    shown = ""
    if "input" in error and not any(s in loc for s in SECRET_FIELDS) and loc:
        value = error["input"]
        if isinstance(value, (str, int, float, Decimal)) and len(str(value)) < 80:
            shown = f" (got {value!r})"
    env_name = ENV_PREFIX + "__".join(loc).upper() if loc else ""
    hint = f" [env {env_name}]" if env_name and all(not p.isdigit() for p in loc) else ""
    return f"{source}: {where}: {message}{shown}{hint}"


def _format_error(err: ValidationError, source: str) -> str:
    """Every problem, one line each: an operator fixes them all in one go."""
    return "\n".join(_format_one(e, source) for e in err.errors())


def load_settings(
    path: str | Path | None = None, *, require_key: bool = True, **overrides: Any
) -> KeeperSettings:
    """Reads the YAML file (optional) and KEEPER_* variables; raises ConfigError naming every bad field.

    `require_key=False` for read-only commands, which need no signing key."""
    source = "environment"
    yaml_path: Path | None = None
    if path is not None:
        yaml_path = Path(path)
        source = f"{yaml_path} + {ENV_PREFIX}* environment"
        if not yaml_path.is_file():
            raise ConfigError(f"keeper config {yaml_path} does not exist")
        try:
            raw = yaml.safe_load(yaml_path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{yaml_path}: not valid YAML ({exc})") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{yaml_path}: expected a mapping at the top level")
        for secret in ENV_ONLY_SECRETS:
            if secret in raw:
                raise ConfigError(
                    f"{yaml_path}: {secret}: secrets are read from the environment only; "
                    f"remove it from the file and set {ENV_PREFIX}{secret.upper()}"
                )
    token = _YAML_PATH.set(yaml_path)
    key_token = _REQUIRE_KEY.set(require_key)
    try:
        return KeeperSettings(**overrides)
    except ValidationError as exc:
        # `from None`: pydantic's error keeps each bad input's text, a malformed key's included
        raise ConfigError(_format_error(exc, source)) from None
    except SettingsError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    finally:
        _YAML_PATH.reset(token)
        _REQUIRE_KEY.reset(key_token)


def _secret_file(path: Path, what: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{what} {path} is not readable ({type(exc).__name__})") from None


def load_account(settings: KeeperSettings) -> Any:
    """The signer (keeper.signer: local key, keystore or remote), or None in a key-less dry run.

    Error messages never include the key, the password or a file's content.
    """
    from eth_account import Account

    from keeper.signer import LocalSigner, RemoteSigner

    key: str | None = None
    if settings.private_key is not None:
        key = settings.private_key.get_secret_value()
    elif settings.private_key_file is not None:
        key = _secret_file(settings.private_key_file, "private_key_file")
    if key is not None:
        from eth_keys.exceptions import ValidationError as KeyValidationError

        where = "private_key_file" if settings.private_key is None else "KEEPER_PRIVATE_KEY"
        try:
            return LocalSigner(key)
        except (ValueError, KeyValidationError, TypeError):
            raise ConfigError(f"{where} is not a valid secp256k1 private key (64 hex digits)") from None
        finally:
            del key
    if settings.keystore_path is not None:
        if settings.keystore_password is not None:
            password, where = settings.keystore_password.get_secret_value(), "KEEPER_KEYSTORE_PASSWORD"
        else:
            assert settings.keystore_password_file is not None
            password = _secret_file(settings.keystore_password_file, "keystore_password_file")
            where = f"keystore_password_file {settings.keystore_password_file}"
        try:
            keyfile = json.loads(settings.keystore_path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"keystore {settings.keystore_path} is not readable JSON ({type(exc).__name__})"
            ) from None
        try:
            return LocalSigner(Account.decrypt(keyfile, password))
        except (ValueError, TypeError, KeyError):
            raise ConfigError(f"keystore {settings.keystore_path}: wrong password in {where}") from None
    if settings.remote_signer_url is not None:
        assert settings.from_address is not None
        url = settings.remote_signer_url.get_secret_value()
        return RemoteSigner(
            url, settings.from_address, timeout_s=settings.rpc_timeout_s, label=redact_url(url)
        )
    return None


def sender_address(settings: KeeperSettings, account: Any) -> ChecksumAddress | None:
    if account is not None:
        return to_checksum_address(account.address)
    return settings.from_address


def env_snapshot() -> dict[str, str]:
    """KEEPER_* variables present (values of secrets hidden), for `keeper check`."""
    out = {}
    for k, v in os.environ.items():
        if k.startswith(ENV_PREFIX):
            out[k] = "***" if any(s.upper() in k for s in SECRET_FIELDS) else v
    return out
