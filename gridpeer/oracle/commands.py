"""``gridpeer oracle``: the oracle process — it follows the market contract, sends each
trade's delivery commands to the seller's and the buyer's agents over MQTT, collects
their metered results and settles the trade on chain.

The oracle key comes from the environment variable ``GRIDPEER_ORACLE_KEY`` (0x-hex),
never from the command line; ``--dev-keys N`` uses the public dev keys (dev chains only)
for the oracle and for houses ``h1..hN``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gridpeer.core.cli_options import MqttCa, MqttCert, MqttKey, MqttTlsFlag, MqttUser
from gridpeer.core.help import FlagHelpCommand


def oracle(
    rpc: Annotated[str, typer.Option(help="Ethereum JSON-RPC URL of the node (e.g. anvil).")],
    contract: Annotated[str, typer.Option(help="Address of the deployed EnergyMarket (0x…).")],
    state: Annotated[
        str,
        typer.Option(
            help="Where the oracle keeps its progress: sqlite:///file.db or postgresql://…"
        ),
    ],
    house: Annotated[
        list[str] | None,
        typer.Option(help="A member house as HOUSE=0xADDRESS (repeat for every house)."),
    ] = None,
    dev_keys: Annotated[
        int,
        typer.Option(help="Dev chains only: N dev houses h1..hN and the public dev oracle key."),
    ] = 0,
    host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port.")] = 1883,
    community: Annotated[str, typer.Option(help="Community id (MQTT topic segment).")] = "demo",
    confirmations: Annotated[
        int, typer.Option(help="Blocks to wait before acting on a chain event (reorg safety).")
    ] = 0,
    lead: Annotated[
        float, typer.Option(help="Seconds before a delivery window to send its commands.")
    ] = 300.0,
    grace: Annotated[
        float,
        typer.Option(help="Seconds after a window to wait for the meters' results (deadline)."),
    ] = 600.0,
    settle_margin: Annotated[
        float,
        typer.Option(
            help="Seconds kept after the deadline to mine the settling transaction (deadline + "
            "margin must fit in the contract's grace)."
        ),
    ] = 120.0,
    ask_again: Annotated[
        list[float] | None,
        typer.Option(
            help="Seconds after a window's end to ask a silent meter again (repeat; default "
            "10/30/60 % of --grace)."
        ),
    ] = None,
    tolerance_pct: Annotated[
        float, typer.Option(help="The two meters agree within this percentage…")
    ] = 2.0,
    tolerance_wh: Annotated[int, typer.Option(help="…or within this many Wh.")] = 5,
    poll: Annotated[float, typer.Option(help="Wall seconds between the oracle's ticks.")] = 0.02,
    start_block: Annotated[
        int, typer.Option(help="First block to follow when the state is fresh.")
    ] = 0,
    mqtt_user: MqttUser = None,
    mqtt_tls: MqttTlsFlag = False,
    mqtt_ca: MqttCa = None,
    mqtt_cert: MqttCert = None,
    mqtt_key: MqttKey = None,
) -> None:
    """Run the oracle until SIGTERM / SIGINT: chain trades → delivery commands →
    metered results → on-chain settlement."""
    from gridpeer.core.mqtt import mqtt_tls as mqtt_tls_settings
    from gridpeer.oracle.process import parse_houses, run
    from gridpeer.oracle.settings import OracleSettings

    try:
        houses = parse_houses(house or [])
        settings = OracleSettings(
            community=community,
            confirmations=confirmations,
            lead_s=lead,
            result_grace_s=grace,
            settle_margin_s=settle_margin,
            ask_again_s=None if ask_again is None else tuple(ask_again),
            tolerance_pct=tolerance_pct,
            tolerance_wh=tolerance_wh,
            poll_s=poll,
            start_block=start_block,
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        typer.echo(f"error: invalid oracle settings: {exc}", err=True)
        raise typer.Exit(2) from exc
    run(
        rpc=rpc,
        contract=contract,
        state=state,
        houses=houses,
        dev_keys=dev_keys,
        host=host,
        port=port,
        settings=settings,
        mqtt_user=mqtt_user,
        tls=mqtt_tls_settings(mqtt_tls, mqtt_ca, mqtt_cert, mqtt_key),
    )


def register(app: typer.Typer) -> None:
    """Add ``oracle`` to the ``gridpeer`` app."""
    app.command("oracle", cls=FlagHelpCommand)(oracle)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m gridpeer.oracle`` (the options of :func:`oracle`)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(cls=FlagHelpCommand)(oracle)
    app(args=argv, prog_name="python -m gridpeer.oracle")
