"""``gridpeer netsim`` argument handling (no ns-3 run)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gridpeer.cli import app
from gridpeer.netsim import commands
from gridpeer.netsim.scenario import Market, ScenarioKind

runner = CliRunner()


def test_help_shows_defaults() -> None:
    res = runner.invoke(app, ["netsim", "--help"])
    assert res.exit_code == 0
    assert "--scenario" in res.output and "--peers" in res.output
    assert "2-7" in res.output


def test_without_ns3_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "ns3_available", lambda: False)
    res = runner.invoke(app, ["netsim", "--scenario", "han"])
    assert res.exit_code == 2
    assert "pip install 'gridpeer[netsim]'" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tech", "802.11z"], "802.11z"),
        (["--scenario", "wan"], "wan"),
        (["--peers", "1-9"], "peer counts"),
        (["--market", "barter"], "barter"),
    ],
)
def test_bad_selection_is_a_clear_error(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["netsim", *args])
    assert res.exit_code == 2
    assert message in res.output


def test_parse_choices() -> None:
    assert commands.parse_choices("all", Market) == (Market.DECENTRALIZED, Market.CENTRALIZED)
    assert commands.parse_choices("han, han,nan-trading", ScenarioKind) == (
        ScenarioKind.HAN,
        ScenarioKind.NAN_TRADING,
    )
    with pytest.raises(ValueError, match="choose from"):
        commands.parse_choices("x", Market)
    with pytest.raises(ValueError, match="empty"):
        commands.parse_choices(" , ", Market)
