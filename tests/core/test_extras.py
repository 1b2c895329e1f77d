"""The core install runs ``serve``; a missing optional part is named with its pip command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gridpeer.core.extras import EXTRAS, MissingExtra, missing, require

EXTRA_MODULES = sorted({m for mods in EXTRAS.values() for m in mods} | {"pyrevm"})


def test_every_extra_is_installed_in_the_dev_environment() -> None:
    assert {extra: missing(extra) for extra in EXTRAS} == {extra: [] for extra in EXTRAS}


def test_a_missing_module_names_the_extra_and_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pvlib", None)
    assert missing("sim") == ["pvlib"]
    with pytest.raises(MissingExtra, match=r"gridpeer simulate needs the 'sim' extra") as exc:
        require("sim", "gridpeer simulate")
    assert "pip install 'gridpeer[sim]'" in str(exc.value)


def _without_extras(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where no extra's module can be imported."""
    block = f"import sys\nfor m in {EXTRA_MODULES!r}: sys.modules[m] = None\n"
    return subprocess.run(
        [sys.executable, "-c", block + code], capture_output=True, text=True, timeout=120
    )


def test_serve_and_the_house_side_need_no_extra() -> None:
    run = _without_extras(
        "import gridpeer.runtime.serve, gridpeer.runtime.run, gridpeer.web.app\n"
        "import gridpeer.oracle.service, gridpeer.hems.host, gridpeer.hems.delivery_agent\n"
        "from gridpeer.runtime.serve import serve_composition\n"
        "serve_composition()\n"
        "print('ok')\n"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"


def test_demo_without_its_extra_exits_2_with_the_pip_command() -> None:
    run = _without_extras(
        "from gridpeer.cli import main\nsys.argv = ['gridpeer', 'demo', '--port', '0']\nmain()\n"
    )
    assert run.returncode == 2, run.stderr[-3000:]
    assert "gridpeer demo needs the 'demo' extra" in run.stderr
    assert "pip install 'gridpeer[demo]'" in run.stderr
