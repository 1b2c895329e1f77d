"""Settings for ``gridpeer demo`` and ``gridpeer serve``.

Read, highest priority first, from ``GRIDPEER_*`` environment variables (nested with
``__``, e.g. ``GRIDPEER_WEB__PORT=8080``), then a TOML file (``--config``), then the
defaults below (the zero-setup demo). Secrets that still hold a placeholder from
``community.example.toml`` (``CHANGE-ME`` and the like) are refused with the field name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gridpeer.core.defaults import (
    DEFAULT_CURRENCY,
    DEFAULT_FEED_IN_WEI_PER_KWH,
    DEFAULT_HOUSES,
    DEFAULT_IMPORT_WEI_PER_KWH,
    DEFAULT_SPEED,
    DEFAULT_WEI_PER_UNIT,
)

if TYPE_CHECKING:
    from gridpeer.core.mqtt import BrokerAddress

_PLACEHOLDER = re.compile(r"change[-_ ]?me|placeholder|replace[-_ ]?me|<[^>]*>|^x+$|^$", re.I)
_NAME = r"^[A-Za-z0-9_-]{1,32}$"


class ConfigError(Exception):
    """The configuration does not fit what it runs against (e.g. the operator key is not
    the deployed market's oracle); the message says what to change."""


def is_placeholder(value: str) -> bool:
    """True for empty strings and values like ``CHANGE-ME``, ``<secret>``, ``xxxx``."""
    return bool(_PLACEHOLDER.search(value.strip()))


def _refuse_placeholder(value: SecretStr | None, field: str) -> SecretStr | None:
    if value is not None and is_placeholder(value.get_secret_value()):
        raise ValueError(
            f"{field} still holds a placeholder; set a real secret in the config file "
            f"or the GRIDPEER_* environment variable"
        )
    return value


MIN_SECRET_BYTES = 32
"""Least random bytes in ``web.session_secret`` (estimated from its length and alphabet)."""
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def secret_bytes(value: str) -> float:
    """Random bytes a secret can hold at most: 4 bits per character of a hex string, 6 of a
    base64 one, 8 otherwise; 0 when it repeats fewer than 10 distinct characters."""
    if len(set(value)) < 10:
        return 0.0
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        return len(value) / 2
    if re.fullmatch(r"[A-Za-z0-9+/_=-]+", value):
        return len(value) * 6 / 8
    return float(len(value.encode()))


def _strong_secret(value: SecretStr | None, field: str) -> SecretStr | None:
    if value is not None and secret_bytes(value.get_secret_value()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"{field} is too weak: use at least {MIN_SECRET_BYTES} random bytes, e.g. the "
            'output of python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    return value


class WebSettings(BaseModel):
    """The HTTP server."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    session_secret: SecretStr | None = None
    """Key that signs session cookies (Sign-In with Ethereum), at least 32 random bytes
    (e.g. ``secrets.token_urlsafe(32)``). Generated per run when unset."""

    forwarded_allow_ips: list[str] = ["127.0.0.1"]
    """Reverse proxies (IP addresses or networks, e.g. ``"10.0.0.2"``, ``"10.0.0.0/24"``)
    whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` headers are trusted: the client's
    address (per-client sign-in limits) and ``https`` (the session cookie's ``Secure``
    flag) then come from them. Default: a proxy on this machine (nginx on 127.0.0.1);
    ``[]`` trusts no header (the app faces clients directly); ``["*"]`` trusts any sender —
    only when nothing but the proxy can reach the app."""

    @field_validator("session_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _strong_secret(
            _refuse_placeholder(value, "web.session_secret"), "web.session_secret"
        )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        if "*" in value and value != ["*"]:
            raise ValueError('web.forwarded_allow_ips: "*" (any sender) goes alone')
        for entry in value:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry)  # strict: 10.0.0.0/24, not 10.0.0.1/24
            except ValueError:
                raise ValueError(
                    f"web.forwarded_allow_ips: {entry!r} is not an IP address or network "
                    "(networks written with their first address, e.g. 10.0.0.0/24)"
                ) from None
        return value


class HouseAccount(BaseModel):
    """One house of a served community: id, display name, equipment, member account, MQTT
    password."""

    id: str = Field(pattern=_NAME)
    name: str | None = None
    kind: Literal["pv_bess", "pv", "consumer"] = "consumer"
    address: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$")
    """The house's member account on the market contract (its trades reach its relays)."""
    pv_kwp: float = Field(0.0, ge=0.0, le=10_000.0)
    bess_kwh: float = Field(0.0, ge=0.0, le=100_000.0)
    mqtt_password: SecretStr | None = None
    devices: list[dict[str, Any]] = []
    """The house's smart plugs and meters (``[[accounts.devices]]``): validated by
    :func:`gridpeer.telemetry.adapters.config.house_devices` (a layer above core)."""

    @field_validator("mqtt_password")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(value, "houses[].mqtt_password")


class MqttSettings(BaseModel):
    """The MQTT broker: embedded (demo) or external (e.g. Mosquitto with ACLs)."""

    embedded: bool = True
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    """0 = a free port (embedded broker only)."""
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    """The broker listens with TLS on ``port`` (``gridpeer broker-config`` writes its CA and
    certificate) and every gridpeer client verifies it; off = plain TCP (tests, demo)."""
    ca_file: Path | None = None
    """PEM CA that signed the broker's certificate (broker-config: ``<out>/ca.crt``); unset
    with ``tls = true``: the system's trusted CAs."""
    cert_file: Path | None = None
    """This client's certificate (PEM), when the broker requires client certificates."""
    key_file: Path | None = None
    """The private key of ``cert_file`` (PEM)."""
    server_names: list[str] = []
    """DNS names and IP addresses the broker's certificate is valid for, besides ``host``
    (e.g. the name or LAN address the houses' nodes connect to)."""
    message_size_limit: int = Field(65536, ge=1024, le=16_777_216)
    """Largest MQTT payload the broker accepts, bytes (gridpeer's largest is a few kB)."""

    @field_validator("password")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(value, "mqtt.password")

    @model_validator(mode="after")
    def _tls_files(self) -> MqttSettings:
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError("mqtt.ca_file/cert_file/key_file need mqtt.tls = true")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("mqtt.cert_file and mqtt.key_file go together")
        return self

    def address(self) -> BrokerAddress:
        """The broker's address with the services' credentials and TLS settings."""
        from gridpeer.core.mqtt import BrokerAddress, MqttTls

        def path(p: Path | None) -> str | None:
            return None if p is None else str(p)

        tls = None
        if self.tls:
            tls = MqttTls(path(self.ca_file), path(self.cert_file), path(self.key_file))
        password = self.password.get_secret_value() if self.password else None
        return BrokerAddress(self.host, self.port, self.username, password, tls)


class ChainSettings(BaseModel):
    """The Ethereum node: ``embedded`` (in-process test chain) or a JSON-RPC URL."""

    rpc_url: str = "embedded"
    chain_id: int | None = Field(None, ge=1)
    contract_address: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$")
    deploy_block: int = Field(0, ge=0)
    """Block the market was deployed in (``gridpeer admin deploy`` writes it): event
    readers start there."""
    operator_key: SecretStr | None = None
    """Private key of the market's oracle account (hex); prefer the encrypted keystore
    ``[keys.oracle]`` (``gridpeer admin keys new oracle``). With either (and
    ``contract_address``) ``serve`` runs the oracle. Never needed for the demo."""
    log_chunk_blocks: int = Field(2000, ge=1, le=1_000_000)
    """Most blocks the web's chain indexer reads per ``eth_getLogs``."""
    tx_replace_after_s: float = Field(30.0, gt=0)
    """Wall s a sent transaction may stay unmined before it is replaced (same nonce, fees
    +12.5 % or more)."""
    max_fee_gwei: float | None = Field(None, gt=0)
    """Most any transaction offers per gas (gwei), replacements included; unset: no cap."""

    coordinator_key: SecretStr | None = None
    """Private key of the market's coordinator account (hex). With it (and
    ``contract_address``) ``serve`` and ``gridpeer coordinator`` run the coordinator of the
    centralized and hybrid designs. Never needed for the demo."""

    @field_validator("operator_key", "coordinator_key")
    @classmethod
    def _secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        name = f"chain.{info.field_name}"
        value = _refuse_placeholder(value, name)
        if value is not None:
            key = value.get_secret_value().strip().removeprefix("0x")
            if not re.fullmatch(r"[0-9a-fA-F]{64}", key) or not 0 < int(key, 16) < _SECP256K1_N:
                raise ValueError(
                    f"{name} is not a private key: 64 hex digits (0x optional), "
                    "not zero, below the secp256k1 group order"
                )
        return value

    @field_validator("rpc_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value != "embedded" and not value.startswith(("http://", "https://")):
            raise ValueError("chain.rpc_url must be 'embedded' or an http(s):// JSON-RPC URL")
        return value


class KeySettings(BaseModel):
    """An account's encrypted keystore (``[keys.<name>]``, written by ``gridpeer admin keys
    new``): never the plaintext key. Relative paths are relative to the config file."""

    keystore: Path
    """The eth-account (Web3 Secret Storage v3) JSON file."""
    address: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{40}$")
    """The account's address (public; read from the keystore when unset)."""
    password_file: Path | None = None
    """A file holding the keystore's password (first line), readable only by its owner."""
    password: SecretStr | None = None
    """The password itself, from ``GRIDPEER_KEYS__<NAME>__PASSWORD`` (never in the TOML)."""


class ScheduleSettings(BaseModel):
    """The trading schedule and grace set on chain (``[schedule]``, written by ``gridpeer
    admin schedule set``): a record of what the contract enforces."""

    mode: Literal["open", "windows", "continuous"] = "windows"
    tz_minutes: int = Field(0, ge=-720, le=840)
    """Local time = UTC + this many minutes (the contract's fixed offset)."""
    slot_minutes: int = Field(15, ge=1, le=255)
    """Continuous mode: slot length, minutes (divides a day)."""
    windows: list[int] = Field([630, 780, 840, 840, 990, 1050], min_length=6, max_length=6)
    """Windows mode: (bid1, delivery1, end1, bid2, delivery2, end2), local minutes."""
    grace_s: int | None = Field(None, ge=1, le=7 * 86400)
    """Seconds after a delivery window before a buyer may reclaim an unconfirmed trade."""


class TariffSettings(BaseModel):
    """Grid prices for energy not traded peer to peer, wei per kWh, and how money is shown."""

    import_wei_per_kwh: int = Field(DEFAULT_IMPORT_WEI_PER_KWH, ge=0)
    feed_in_wei_per_kwh: int = Field(DEFAULT_FEED_IN_WEI_PER_KWH, ge=0)
    currency: str = Field(DEFAULT_CURRENCY, pattern=r"^[A-Za-z]{2,6}$")
    wei_per_unit: int = Field(DEFAULT_WEI_PER_UNIT, ge=1)
    """Wei per currency unit (demo: 1 CLP = 10^12 wei)."""


class MarketSettings(BaseModel):
    """How the community's market works."""

    design: Literal["decentralized", "centralized", "hybrid"] = "decentralized"
    """The market design: ``decentralized`` (members post offers and requests and pick each
    other's, the thesis design); ``centralized`` (members sign orders, the coordinator
    clears them at gate closure with ``mechanism`` and settles the batch on chain);
    ``hybrid`` (signed orders matched continuously by the coordinator, settled at gate
    closure)."""
    mechanism: Literal[
        "uniform", "pay_as_bid", "mmr", "bill_sharing", "sdr", "order_book", "cda"
    ] = "uniform"
    """Clearing mechanism of the centralized design (``uniform``, ``pay_as_bid``, ``mmr``,
    ``bill_sharing``, ``sdr``, ``order_book``, ``cda``: :mod:`gridpeer.market.mechanisms`)."""
    gate_s: int = Field(60, ge=1, le=86_400)
    """Gate closure of the centralized and hybrid designs: seconds (model time) before a
    delivery window starts; the coordinator stops taking orders for it and settles it."""
    strategy: Literal["rule", "mpc"] = "rule"
    """The demo's home agents: ``rule`` (forecast of the window from the house's simulated
    day, battery self-consumption, the rule-based quantities and prices) or ``mpc``
    (forecasts from the house's own stored readings, a rolling battery schedule solved
    with HiGHS like the simulator's MPC agents, orders from the schedule:
    :mod:`gridpeer.hems.trading_mpc`)."""


class HomeAssistantSettings(BaseModel):
    """``[homeassistant]``: publish MQTT discovery configs so that each member's Home
    Assistant shows its house's consumption, PV, battery and P2P trading (off by default).

    Attributes:
        enabled: serve publishes the configs (retained; again on Home Assistant's birth
            message).
        prefix: Home Assistant's discovery prefix.
    """

    enabled: bool = False
    prefix: str = Field("homeassistant", pattern=r"^[A-Za-z0-9_-]+$")


class Settings(BaseSettings):
    """Everything a running community needs. Defaults are the embedded demo."""

    model_config = SettingsConfigDict(
        env_prefix="GRIDPEER_", env_nested_delimiter="__", extra="forbid"
    )
    toml_path: ClassVar[Path | None] = None

    community: str = Field("demo", pattern=_NAME)
    data_dir: Path | None = None
    """Where SQLite and run files go; a fresh temporary directory when unset."""
    store_url: str | None = None
    """``sqlite:///path.db`` or ``postgresql://user:pass@host/db``; SQLite in data_dir if unset."""
    houses: int = Field(DEFAULT_HOUSES, ge=1, le=10_000)
    """Number of simulated houses (demo)."""
    speed: float = Field(DEFAULT_SPEED, gt=0, le=100_000)
    """Model seconds per wall second (60 = a day in 24 minutes; 1 = real time)."""
    agents: bool = True
    """Run every house's automatic trading agent (demo); off leaves trading to people."""
    timezone: str | None = None
    """The community's time zone (IANA, e.g. ``America/Santiago``): "today" and each day's
    history start at its midnight. Unset: the market schedule's UTC offset, else UTC."""
    web: WebSettings = WebSettings()
    mqtt: MqttSettings = MqttSettings()
    chain: ChainSettings = ChainSettings()
    tariff: TariffSettings = TariffSettings()
    market: MarketSettings = MarketSettings()
    oracle: dict[str, Any] = {}
    """The oracle's timings and tolerances (``[oracle]``: ``lead_s``, ``result_grace_s``,
    ``settle_margin_s``, ``ask_again_s``, ``tolerance_pct``, ``tolerance_wh``,
    ``confirmations``, … — :class:`gridpeer.oracle.settings.OracleSettings`). ``serve``
    validates them, and refuses timings that cannot settle a trade within the contract's
    grace."""
    homeassistant: HomeAssistantSettings = HomeAssistantSettings()
    """Home Assistant MQTT discovery (``[homeassistant]``), off by default."""
    thingspeak: dict[str, Any] = {}
    """The optional ThingSpeak uplink (``[thingspeak]``: ``enabled``, ``min_interval_s``,
    ``[[thingspeak.channels]]`` with ``house``, ``write_key``, ``fields`` —
    :class:`gridpeer.store.thingspeak.ThingSpeakSettings`); off by default."""
    accounts: list[HouseAccount] = []
    keys: dict[str, KeySettings] = {}
    """Encrypted keystores by name (``admin``, ``oracle``, ``coordinator``, …)."""
    schedule: ScheduleSettings | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name like America/Santiago"
            ) from None
        return value

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError("store_url must start with sqlite:// or postgresql://")
        if is_placeholder(value.split("@")[0].rsplit(":", 1)[-1]) and "@" in value:
            raise ValueError("store_url: the database password still holds a placeholder")
        return value

    @model_validator(mode="after")
    def _serve_needs(self) -> Settings:
        if not self.mqtt.embedded and self.mqtt.port == 0:
            raise ValueError("mqtt.port is required for an external broker")
        base = type(self).toml_path
        if base is not None:  # keystore paths are relative to the config file
            for key in self.keys.values():
                key.keystore = base.parent / key.keystore
                if key.password_file is not None:
                    key.password_file = base.parent / key.password_file
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
        if cls.toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_path))
        return tuple(sources)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``config`` (TOML, optional), ``GRIDPEER_*`` env vars and ``overrides``.

    Raises:
        FileNotFoundError: ``config`` is given but does not exist.
        pydantic.ValidationError: a value is invalid or a secret is a placeholder.
    """
    if config is not None and not config.is_file():
        raise FileNotFoundError(f"config file not found: {config}")
    cls = type("FileSettings", (Settings,), {"toml_path": config})
    settings: Settings = cls(**{k: v for k, v in overrides.items() if v is not None})
    return settings
