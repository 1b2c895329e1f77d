"""``gridpeer delivery-agent``: one house's delivery agent — it switches the house's
delivery relays when the oracle says so, meters the energy through them and reports
the metered Wh.

The relays and meters are real devices (Tasmota or Shelly, :mod:`gridpeer.hems.device_power`)
taken from the community config (``[[accounts.devices]]`` with ``role = "out"`` / ``"in"``)
or from ``--device``. ``--simulated-meter`` replaces them by a constant power for tests
and simulations, and says so: without it a house with no configured relay is refused.
"""

from __future__ import annotations

import logging
import signal
import threading
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gridpeer.core.help import FlagHelpCommand

if TYPE_CHECKING:
    from gridpeer.core.mqtt import MqttTls

log = logging.getLogger(__name__)


def _config_devices(config: Path, house: str) -> list[dict[str, Any]]:
    """The ``[[accounts.devices]]`` tables of ``house`` in a community TOML."""
    with config.open("rb") as f:
        doc = tomllib.load(f)
    for account in doc.get("accounts", []):
        if account.get("id") == house:
            devices = account.get("devices", [])
            if not isinstance(devices, list):
                raise ValueError(f"accounts[{house}].devices must be an array of tables")
            return devices
    raise ValueError(f"house {house!r} is not in {config} ([[accounts]] id = …)")


def _config_broker(config: Path, house: str) -> tuple[str, str, int, str | None, MqttTls | None]:
    """(community, broker host, broker port, the house's MQTT password, TLS) from a
    community TOML (``community``, ``[mqtt]`` host/port/tls/ca_file, the house's
    ``mqtt_password``); relative ``ca_file`` paths are relative to the TOML."""
    from gridpeer.core.mqtt import MqttTls

    with config.open("rb") as f:
        doc = tomllib.load(f)
    mqtt = doc.get("mqtt", {})
    account: dict[str, Any] = next((a for a in doc.get("accounts", []) if a.get("id") == house), {})
    tls = None
    if mqtt.get("tls"):
        ca = mqtt.get("ca_file")
        tls = MqttTls(str(config.parent / ca) if ca else None)
    return (
        str(doc.get("community", "demo")),
        str(mqtt.get("host", "127.0.0.1")),
        int(mqtt.get("port", 1883)),
        account.get("mqtt_password"),
        tls,
    )


def delivery_agent(
    house: Annotated[str, typer.Option(help="House id (as in the community config).")],
    state: Annotated[
        Path,
        typer.Option(help="SQLite file for the delivery tasks; they survive a restart."),
    ],
    community: Annotated[
        str | None,
        typer.Option(help="Community id (MQTT topic segment) [default: the config's, or demo]."),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="MQTT broker host [default: the config's, or 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="MQTT broker port [default: the config's, or 1883].")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Community TOML: the house's [[accounts.devices]] with role 'out' / 'in' "
            "are its delivery relays and meters; a 'house' device's readings are "
            "republished as the house's meter readings. The agent connects to its [mqtt] "
            "broker as the house's account (user = house id, its mqtt_password).",
        ),
    ] = None,
    device: Annotated[
        list[str] | None,
        typer.Option(
            help="A device as ROLE=KIND:TOPIC[:CHANNEL], e.g. out=tasmota:p2p-h1 or "
            "in=shelly-plus1pm:shellyplus1pm-a8032ab12345 (repeat; adds to --config).",
        ),
    ] = None,
    simulated_meter: Annotated[
        bool,
        typer.Option(
            help="SIMULATION ONLY: switch no relay and meter a constant --out-w / --in-w. "
            "Never for real trades: they would be paid for energy nobody measured.",
        ),
    ] = False,
    out_w: Annotated[
        float | None, typer.Option(help="Simulated OUT power, W (--simulated-meter only).")
    ] = None,
    in_w: Annotated[
        float | None, typer.Option(help="Simulated IN power, W (--simulated-meter only).")
    ] = None,
    stale: Annotated[
        float, typer.Option(help="A device reading older than this many seconds counts 0 W.")
    ] = 30.0,
    clock_start: Annotated[
        str | None, typer.Option(help="Model time (ISO 8601, UTC) at --clock-wall0.")
    ] = None,
    clock_wall0: Annotated[
        float | None, typer.Option(help="POSIX wall time at which the model clock starts.")
    ] = None,
    speed: Annotated[float, typer.Option(help="Model seconds per wall second.")] = 1.0,
    tick: Annotated[float, typer.Option(help="Wall seconds between metering steps.")] = 0.05,
    mqtt_user: Annotated[
        str | None,
        typer.Option(help="MQTT user (its password from GRIDPEER_MQTT_PASSWORD)."),
    ] = None,
    mqtt_tls: Annotated[
        bool, typer.Option(help="TLS to the broker, verified with the system's CAs.")
    ] = False,
    mqtt_ca: Annotated[
        str | None,
        typer.Option(
            help="TLS to the broker, verified with this CA (PEM; broker-config's ca.crt)."
        ),
    ] = None,
    mqtt_cert: Annotated[
        str | None, typer.Option(help="Client certificate (PEM), if the broker requires one.")
    ] = None,
    mqtt_key: Annotated[
        str | None, typer.Option(help="The client certificate's key (PEM).")
    ] = None,
) -> None:
    """Run one house's delivery agent until SIGTERM / SIGINT: switch the delivery relays
    the oracle commands, meter the Wh through them, report the metered results."""
    from pydantic import ValidationError

    from gridpeer.core.clock import Clock, epoch_clock
    from gridpeer.core.mqtt import mqtt_credentials
    from gridpeer.core.mqtt import mqtt_tls as mqtt_tls_settings
    from gridpeer.hems.delivery_agent import DeliveryAgent
    from gridpeer.hems.delivery_power import ConstantPower, PowerSource
    from gridpeer.hems.device_power import DevicePower, device_relays
    from gridpeer.telemetry.adapters.bridge import DeviceBridge
    from gridpeer.telemetry.adapters.config import house_devices, parse_device

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    password: str | None = None
    cfg_tls: MqttTls | None = None
    try:
        if config is not None:
            cfg_community, cfg_host, cfg_port, password, cfg_tls = _config_broker(config, house)
            community, host, port = community or cfg_community, host or cfg_host, port or cfg_port
        entries: list[Any] = _config_devices(config, house) if config is not None else []
        entries += [parse_device(spec) for spec in device or []]
        devices = house_devices(entries)
    except (OSError, tomllib.TOMLDecodeError, ValidationError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    relays = device_relays(devices)
    if simulated_meter and relays:
        typer.echo("error: --simulated-meter with real relays configured: choose one", err=True)
        raise typer.Exit(2)
    if not simulated_meter and (out_w is not None or in_w is not None):
        typer.echo("error: --out-w / --in-w are simulated powers: add --simulated-meter", err=True)
        raise typer.Exit(2)
    if not simulated_meter and not relays:
        typer.echo(
            f"error: house {house} has no delivery relay: configure [[accounts.devices]] "
            "with role 'out' / 'in' (--config) or --device, or run a simulation with "
            "--simulated-meter",
            err=True,
        )
        raise typer.Exit(2)

    community, host, port = community or "demo", host or "127.0.0.1", port or 1883
    if mqtt_user is None and password:  # the house's own account from the config
        credentials: tuple[str, str] | None = (house, password)
    else:
        credentials = mqtt_credentials(mqtt_user)
    tls = mqtt_tls_settings(mqtt_tls, mqtt_ca, mqtt_cert, mqtt_key) or cfg_tls
    start = datetime.fromisoformat(clock_start) if clock_start else datetime.now(UTC)
    clock = (
        epoch_clock(start, speed, clock_wall0)
        if clock_wall0 is not None
        else Clock(start=start, speed=speed)
    )
    devices_power: DevicePower | None = None
    power: PowerSource
    if simulated_meter:
        log.warning("SIMULATED meter: no relay is switched, %s W out / %s W in", out_w, in_w)
        power = ConstantPower(
            out_w if out_w is not None else 2000.0, in_w if in_w is not None else 2000.0
        )
    else:
        bridge = DeviceBridge(
            host,
            port,
            devices,
            client_id=f"gridpeer-dev-{community}-{house}",
            community=community,
            house=house,
            credentials=credentials,
            tls=tls,
        )
        devices_power = power = DevicePower(bridge, relays, stale_s=stale)
        devices_power.start()
    agent = DeliveryAgent(
        community,
        house,
        host,
        port,
        state,
        clock,
        power,
        tick_s=tick,
        credentials=credentials,
        tls=tls,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    agent.start()
    print(f"agent {house} ready", flush=True)
    done.wait()
    agent.stop()
    if devices_power is not None:
        devices_power.stop()  # opens every relay


def register(app: typer.Typer) -> None:
    """Add ``delivery-agent`` to the ``gridpeer`` app."""
    app.command("delivery-agent", cls=FlagHelpCommand)(delivery_agent)
