"""Demo composition: services start in order and stop in reverse."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridpeer.core.clock import Clock
from gridpeer.core.settings import load_settings
from gridpeer.runtime.composition import Composition, Parts
from gridpeer.runtime.demo import demo_clock


def _recorder(name: str, log: list[str]) -> object:
    @contextlib.asynccontextmanager
    async def service(parts: Parts) -> AsyncIterator[None]:
        log.append(f"start {name}")
        try:
            yield
        finally:
            log.append(f"stop {name}")

    return service


def _parts() -> Parts:
    return Parts(load_settings(), Clock(), Path("."), [], [])


async def test_start_in_order_stop_in_reverse() -> None:
    log: list[str] = []
    comp = Composition()
    comp.add("a", _recorder("a", log))  # type: ignore[arg-type]
    comp.add("b", _recorder("b", log))  # type: ignore[arg-type]
    comp.add("c", _recorder("c", log))  # type: ignore[arg-type]
    assert comp.names() == ["a", "b", "c"]
    parts = _parts()
    seen: list[str] = []

    def ready(p: Parts) -> None:
        seen.extend(log)
        p.stop.set()

    await asyncio.wait_for(comp.run(parts, ready), 10)
    assert seen == ["start a", "start b", "start c"]
    assert log == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]


async def test_failed_start_stops_what_started() -> None:
    log: list[str] = []

    @contextlib.asynccontextmanager
    async def broken(parts: Parts) -> AsyncIterator[None]:
        raise OSError("port taken")
        yield

    comp = Composition()
    comp.add("a", _recorder("a", log))  # type: ignore[arg-type]
    comp.add("broken", broken)
    with pytest.raises(OSError, match="port taken"):
        await comp.run(_parts())
    assert log == ["start a", "stop a"]


def test_add_refusals() -> None:
    comp = Composition()
    comp.add("a", _recorder("a", []))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already"):
        comp.add("a", _recorder("a", []))  # type: ignore[arg-type]


def test_demo_clock_never_behind_the_wall_clock() -> None:
    wall = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    assert demo_clock(240, 12, wall).start == datetime(2026, 3, 11, 12, tzinfo=UTC)
    assert demo_clock(240, 14, wall).start == datetime(2026, 3, 10, 14, tzinfo=UTC)


def test_the_delivery_runtime_meters_no_house_by_default(tmp_path: Path) -> None:
    from gridpeer.hems.delivery_power import ConstantPower
    from gridpeer.runtime.delivery_runtime import DeliveryRuntime

    houses = {"0x01": "h1", "0x02": "h2"}
    with pytest.raises(ValueError, match=r"no power source for houses \['h2'\]"):
        DeliveryRuntime(
            None,  # type: ignore[arg-type]  # refused before the chain is touched
            None,  # type: ignore[arg-type]
            houses,
            "127.0.0.1",
            1,
            tmp_path,
            Clock(),
            power={"h1": ConstantPower()},
        )
