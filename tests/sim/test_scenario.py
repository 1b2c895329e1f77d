"""Scenario TOML: presets load, bad scenarios give clear errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridpeer.sim.scenario import ScenarioError, load_scenario, parse_scenario, preset_names

GOOD = """
name = "t"
houses = 4
[site]
latitude = -33.0
longitude = -71.6
[tariff]
import_price = 0.2
feed_in_price = 0.1
[[households]]
name = "pv"
share = 0.5
pv_kwp = 3.0
battery_wh = 5000
[[households]]
name = "consumer"
share = 0.5
"""


def test_presets_all_load() -> None:
    names = preset_names()
    assert {"thesis-lab-5", "rural-7", "village-100", "town-10k"} <= set(names)
    sizes = {n: load_scenario(n).houses for n in names}
    assert sizes["thesis-lab-5"] == 5
    assert sizes["rural-7"] == 7
    assert sizes["village-100"] == 100
    assert sizes["town-10k"] == 10_000


def test_parse_good_scenario_and_defaults() -> None:
    sc = parse_scenario(GOOD)
    assert sc.houses == 4
    assert sc.market == "uniform"
    assert sc.households[0].battery_wh == 5000
    assert sc.calendar.slot_minutes == 15


def test_file_loading(tmp_path: Path) -> None:
    p = tmp_path / "mine.toml"
    p.write_text(GOOD, encoding="utf-8")
    sc = load_scenario(str(p))
    assert sc.name == "t"
    assert sc.base_dir == str(tmp_path)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (("share = 0.5\npv_kwp", "share = 0.7\npv_kwp"), "shares must sum to 1"),
        (("latitude = -33.0", "latitude = -133.0"), "site.latitude"),
        (("feed_in_price = 0.1", "feed_in_price = 0.5"), "feed_in_price must not exceed"),
        (("houses = 4", "houses = 4\ncolour = 1"), "colour"),
        (("[tariff]", "[tariff]\nwei_per_unit = 1000000000000000000"), "wei_per_unit"),
        (("houses = 4", 'houses = "many"'), "houses"),
        (("battery_wh = 5000", "battery_wh = -1"), "households.0.battery_wh"),
        (("[tariff]", "[tariff]\ntou = [{start_h = 20, end_h = 18, import_price = 0.3}]"), "end_h"),
    ],
)
def test_bad_scenarios_name_the_problem(edit: tuple[str, str], needle: str) -> None:
    text = GOOD.replace(*edit, 1)
    assert text != GOOD
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, "bad.toml")
    assert needle in str(exc.value)
    assert "bad.toml" in str(exc.value)


def test_bad_toml_syntax() -> None:
    with pytest.raises(ScenarioError, match="not valid TOML"):
        parse_scenario("name = ", "x.toml")


def test_unknown_preset_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"unknown scenario 'nowhere'.*thesis-lab-5"):
        load_scenario("nowhere")
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(str(tmp_path / "missing.toml"))
