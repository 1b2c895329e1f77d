"""Settings for ``gridpeer demo`` and ``gridpeer serve``.

Read, highest priority first, from ``GRIDPEER_*`` environment variables (nested with
``__``, e.g. ``GRIDPEER_WEB__PORT=8080``), then a TOML file (``--config``), then the
defaults below (the zero-setup demo). Secrets that still hold a placeholder from
``community.example.toml`` (``CHANGE-ME`` and the like) are refused with the field name.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
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
    FEEDER_FILE_SUFFIXES,
    FEEDER_PRESETS,
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
    zone: str | None = Field(None, pattern=_NAME)
    """The house's zone (its feeder or street) for buyers' *local* preference: a local buy
    order is served first by sellers of the same zone. Unset: local to no one."""
    green: bool | None = None
    """Whether the house sells green energy, for buyers' *green* preference. Unset: green
    when it has PV (``pv_kwp`` > 0 or ``kind`` pv/pv_bess)."""
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
    with ``tls = true``: the system's trusted CAs. Relative paths (here and in
    ``cert_file``/``key_file``) are relative to the config file."""
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


class GridSettings(BaseModel):
    """``[grid]``: the community's low-voltage feeder, for the live power flow of the
    overview (``/api/grid``; needs pandapower, ``pip install gridpeer[sim]``).

    Attributes:
        network: one of pandapower's shipped LV test feeders
            (:data:`~gridpeer.core.defaults.FEEDER_PRESETS`) or a pandapower network file
            (``.json``, ``.p``/``.pkl``, ``.xlsx``; relative to the config file).
        buses: house id → its bus: the bus's index in the network (``net.bus``) or its
            name. Houses not listed take the network's load buses in turn, in
            ``[[accounts]]`` order (house k on load bus k mod n).
        voltage_band: bus voltages within ``1 ± voltage_band`` per unit are fine
            (EN 50160: ±10 %).
        max_loading_pct: most loading of a line or transformer, % of its rating.
        power_factor: the houses' reactive power, Q = P·tan(acos(pf)).
        keep_network_loads: the network file's own loads stay as non-member load (off:
            only the members' houses load the feeder).
        refresh_s: wall seconds between two live power flows (at most; none while nobody
            looks at the overview).
    """

    model_config = ConfigDict(extra="forbid")

    network: str
    buses: dict[str, int | str] = {}
    voltage_band: float = Field(0.10, gt=0, lt=1)
    max_loading_pct: float = Field(100.0, gt=0)
    power_factor: float = Field(1.0, gt=0, le=1)
    keep_network_loads: bool = False
    refresh_s: float = Field(10.0, ge=0, le=3600)

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        if value in FEEDER_PRESETS or Path(value).suffix.lower() in FEEDER_FILE_SUFFIXES:
            return value
        import difflib

        close = difflib.get_close_matches(value, FEEDER_PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown feeder {value!r}{hint}: use one of pandapower's LV test feeders "
            f"({', '.join(FEEDER_PRESETS)}) or a pandapower network file "
            f"({', '.join(FEEDER_FILE_SUFFIXES)})"
        )

    @field_validator("buses")
    @classmethod
    def _buses(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        for house, bus in value.items():
            if isinstance(bus, int) and bus < 0:
                raise ValueError(f"house {house}: bus {bus} is negative (bus indices are >= 0)")
            if isinstance(bus, str) and not bus.strip():
                raise ValueError(f"house {house}: empty bus name")
        return value

    def network_file(self) -> Path | None:
        """The network file (None for a shipped feeder)."""
        return None if self.network in FEEDER_PRESETS else Path(self.network)


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
    grid: GridSettings | None = None
    """The community's feeder (``[grid]``): the overview's live power flow; none when unset
    (the demo picks one of :data:`~gridpeer.core.defaults.DEMO_FEEDERS`)."""

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
        if base is not None:  # keystore and TLS paths are relative to the config file
            self.mqtt = _tls_relative_to(self.mqtt, base)
            for key in self.keys.values():
                key.keystore = base.parent / key.keystore
                if key.password_file is not None:
                    key.password_file = base.parent / key.password_file
        if self.grid is not None:
            self._check_grid(self.grid, base)
        return self

    def _check_grid(self, grid: GridSettings, base: Path | None) -> None:
        file = grid.network_file()
        if file is not None:
            if base is not None and not file.is_absolute():
                file = base.parent / file  # relative to the config file
                grid.network = str(file)
            if not file.is_file():
                raise ValueError(f"grid.network: the network file {file} does not exist")
        ids = [a.id for a in self.accounts]
        unknown = [h for h in grid.buses if ids and h not in ids]
        if unknown:
            raise ValueError(
                f"grid.buses: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} "
                f"not a house of [[accounts]] ({', '.join(ids)})"
            )

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


@dataclass(frozen=True)
class HouseConfig:
    """One house's view of a community TOML, as a house's own machine (its delivery agent)
    needs it: the community id, the broker (without the services' credentials) and the
    house's account. Other houses' entries and the services' secrets are not read, so a
    house's copy of the config may keep placeholders there."""

    community: str
    mqtt: MqttSettings
    account: HouseAccount

    def broker(self) -> BrokerAddress:
        """The broker's address with this house's credentials (user = house id, its
        ``mqtt_password``; none when the config has no password) and TLS settings."""
        address = self.mqtt.address()
        password = self.account.mqtt_password
        if password is None:
            return address
        return address.as_user(self.account.id, password.get_secret_value())


def load_house_config(config: Path, house: str) -> HouseConfig:
    """The view of ``house`` in the community TOML ``config``: ``community``, ``[mqtt]``
    (its ``username``/``password`` belong to the services and are ignored) and the house's
    ``[[accounts]]`` entry, validated by the same models as :func:`load_settings`.
    Relative TLS file paths are relative to the TOML.

    Raises:
        FileNotFoundError: no such file.
        tomllib.TOMLDecodeError: not TOML.
        ConfigError: ``house`` is not in ``[[accounts]]``.
        pydantic.ValidationError: a value of this house or of ``[mqtt]`` is invalid (e.g.
            the house's password still holds a placeholder).
    """
    with config.open("rb") as f:
        doc = tomllib.load(f)
    mqtt = {k: v for k, v in doc.get("mqtt", {}).items() if k not in ("username", "password")}
    entry = next((a for a in doc.get("accounts", []) if a.get("id") == house), None)
    if entry is None:
        raise ConfigError(f"house {house!r} is not in {config} ([[accounts]] id = …)")
    community = str(doc.get("community", "demo"))
    if not re.match(_NAME, community):
        raise ConfigError(f"community {community!r}: use 1-32 letters, digits, '-' or '_'")
    return HouseConfig(
        community, _tls_relative_to(MqttSettings(**mqtt), config), HouseAccount(**entry)
    )


def _tls_relative_to(mqtt: MqttSettings, config: Path) -> MqttSettings:
    """``mqtt`` with relative ``ca_file``/``cert_file``/``key_file`` taken relative to the
    directory of the TOML ``config`` (absolute paths unchanged)."""

    def rel(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else config.parent / p

    changes = {
        name: rel(getattr(mqtt, name))
        for name in ("ca_file", "cert_file", "key_file")
        if rel(getattr(mqtt, name)) is not None
    }
    return mqtt.model_copy(update=changes)
