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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gridpeer.core.cli_options import MqttCa, MqttCert, MqttKey, MqttTlsFlag, MqttUser
from gridpeer.core.help import FlagHelpCommand

if TYPE_CHECKING:
    from gridpeer.core.settings import HouseConfig

log = logging.getLogger(__name__)


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
    mqtt_user: MqttUser = None,
    mqtt_tls: MqttTlsFlag = False,
    mqtt_ca: MqttCa = None,
    mqtt_cert: MqttCert = None,
    mqtt_key: MqttKey = None,
) -> None:
    """Run one house's delivery agent until SIGTERM / SIGINT: switch the delivery relays
    the oracle commands, meter the Wh through them, report the metered results."""
    import tomllib

    from pydantic import ValidationError

    from gridpeer.core.clock import Clock, epoch_clock
    from gridpeer.core.mqtt import mqtt_credentials
    from gridpeer.core.mqtt import mqtt_tls as mqtt_tls_settings
    from gridpeer.core.settings import ConfigError, load_house_config
    from gridpeer.hems.delivery_agent import DeliveryAgent
    from gridpeer.hems.delivery_power import ConstantPower, PowerSource
    from gridpeer.hems.device_power import DevicePower, device_relays
    from gridpeer.telemetry.adapters.bridge import DeviceBridge
    from gridpeer.telemetry.adapters.config import house_devices, parse_device

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    house_cfg: HouseConfig | None = None
    try:
        if config is not None:
            house_cfg = load_house_config(config, house)
        entries: list[Any] = list(house_cfg.account.devices) if house_cfg else []
        entries += [parse_device(spec) for spec in device or []]
        devices = house_devices(entries)
    except (OSError, tomllib.TOMLDecodeError, ValidationError, ValueError, ConfigError) as exc:
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

    cfg_broker = house_cfg.broker() if house_cfg else None
    community = community or (house_cfg.community if house_cfg else "demo")
    host = host or (cfg_broker.host if cfg_broker else "127.0.0.1")
    port = port or (cfg_broker.port if cfg_broker else 0) or 1883
    credentials: tuple[str, str] | None
    if mqtt_user is None and cfg_broker and cfg_broker.username and cfg_broker.password:
        credentials = (cfg_broker.username, cfg_broker.password)  # the house's own account
    else:
        credentials = mqtt_credentials(mqtt_user)
    tls = mqtt_tls_settings(mqtt_tls, mqtt_ca, mqtt_cert, mqtt_key) or (
        cfg_broker.tls if cfg_broker else None
    )
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
