"""``gridpeer demo`` as a real process: starts on free ports, serves data, Ctrl-C stops all."""

from __future__ import annotations

import socket

import httpx

from tests.web.demoproc import start_demo


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_demo_serves_and_ctrl_c_stops_everything() -> None:
    demo = start_demo("--speed", "600", "--houses", "5")
    web_port = int(demo.url.rsplit(":", 1)[1])
    try:
        assert demo.broker_port > 0 and _port_open(demo.broker_port)
        ov = httpx.get(demo.url + "/api/overview", timeout=10).json()
        assert [h["id"] for h in ov["houses"]] == ["h1", "h2", "h3", "h4", "h5"]
        kinds = [h["kind"] for h in ov["houses"]]
        assert kinds.count("pv_bess") == 2 and kinds.count("pv") == 1
        assert kinds.count("consumer") == 2
        assert all(h["load_w"] is not None and h["load_w"] > 0 for h in ov["houses"])
        assert all(h["soc"] is not None for h in ov["houses"] if h["kind"] == "pv_bess")
        assert ov["totals"]["today_load_wh"] > 0
    finally:
        rc = demo.stop()
    assert rc == 0, "".join(demo.lines)
    assert "stopped cleanly" in "".join(demo.lines)
    assert not _port_open(web_port)
    assert not _port_open(demo.broker_port)


def test_demo_refuses_bad_options() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "gridpeer.cli", "demo", "--houses", "0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "houses" in out.stderr
