"""Delivery execution in the home agent: a pure state machine, idempotent by trade id.

For each accepted :class:`~gridpeer.telemetry.delivery.DeliveryCommand` the executor

1. waits until the window starts, then closes the relay of the command's direction
   (the seller's OUT relay, the buyer's IN relay);
2. integrates the metered power of that relay into Wh at every :meth:`step`;
3. opens the relay when the target is reached or the window ends, whichever is first;
4. yields a :class:`~gridpeer.telemetry.delivery.DeliveryResult` with the measured Wh.

One relay per direction: trades of the same direction with overlapping windows run one
after the other (earliest window start, then lowest trade id). A command seen twice is
executed once. Energy in Wh (float while integrating, reported rounded down), power W,
times UTC (model time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from gridpeer.telemetry.delivery import DeliveryCommand, DeliveryResult, Direction


class Phase(StrEnum):
    """Where one delivery is: waiting for its window, relay closed, or done."""

    WAITING = "waiting"
    CLOSED = "closed"
    DONE = "done"


@dataclass(frozen=True)
class Task:
    """One delivery in progress.

    Attributes:
        command: the oracle's command.
        phase: waiting / closed / done.
        measured_wh: energy metered through the relay so far, Wh.
        closed_at: UTC time the relay closed, if it did.
        opened_at: UTC time the relay opened again (done only).
        reason: why it ended: ``target`` or ``window_end`` (done only).
    """

    command: DeliveryCommand
    phase: Phase = Phase.WAITING
    measured_wh: float = 0.0
    closed_at: datetime | None = None
    opened_at: datetime | None = None
    reason: Literal["target", "window_end"] | None = None

    def result(self) -> DeliveryResult:
        """The result message of a finished task."""
        if self.phase is not Phase.DONE or self.opened_at is None or self.reason is None:
            raise ValueError(f"trade {self.command.trade_id} is not done")
        return DeliveryResult(
            trade_id=self.command.trade_id,
            house=self.command.house,
            direction=self.command.direction,
            measured_wh=math.floor(self.measured_wh + 1e-9),
            target_wh=self.command.target_wh,
            closed_at=self.closed_at,
            opened_at=self.opened_at,
            reason=self.reason,
        )


class DeliveryExecutor:
    """Runs one house's deliveries. Pure: time and metered power are passed in.

    Args:
        house: the house this executor belongs to; commands for others are refused.
        tasks: tasks restored from persistent state (after a restart).
    """

    def __init__(self, house: str, tasks: list[Task] | None = None) -> None:
        self.house = house
        self.tasks: dict[int, Task] = {t.command.trade_id: t for t in tasks or []}

    def accept(self, command: DeliveryCommand) -> bool:
        """Take a command; False if this trade id was seen before (it is not run twice).

        Raises:
            ValueError: if the command is addressed to another house.
        """
        if command.house != self.house:
            raise ValueError(f"command for house {command.house!r} sent to {self.house!r}")
        if command.trade_id in self.tasks:
            return False
        self.tasks[command.trade_id] = Task(command)
        return True

    def relay_closed(self, direction: Direction) -> bool:
        """True while a delivery of ``direction`` has its relay closed."""
        return self._active(direction) is not None

    def active_trade(self, direction: Direction) -> int | None:
        """Trade id whose delivery has the relay of ``direction`` closed, if any."""
        task = self._active(direction)
        return None if task is None else task.command.trade_id

    def _active(self, direction: Direction) -> Task | None:
        for t in self.tasks.values():
            if t.phase is Phase.CLOSED and t.command.direction is direction:
                return t
        return None

    def step(self, now: datetime, power_w: dict[Direction, float], dt_s: float) -> list[Task]:
        """Advance to ``now``.

        Args:
            now: current UTC model time.
            power_w: metered power through each closed relay over the last ``dt_s``
                seconds, W (>= 0; missing directions count as 0).
            dt_s: model seconds since the previous step (>= 0).

        Returns:
            The tasks that changed (closed or finished), in trade id order.
        """
        if dt_s < 0:
            raise ValueError(f"dt_s must be >= 0, got {dt_s}")
        changed: dict[int, Task] = {}
        for direction in Direction:
            active = self._active(direction)
            if active is not None:
                p = max(0.0, float(power_w.get(direction, 0.0)))
                target = float(active.command.target_wh)
                energy = min(target, active.measured_wh + p * dt_s / 3600.0)
                active = replace(active, measured_wh=energy)
                if energy >= target - 1e-9:
                    active = replace(active, phase=Phase.DONE, opened_at=now, reason="target")
                elif now >= active.command.window_end:
                    active = replace(active, phase=Phase.DONE, opened_at=now, reason="window_end")
                self.tasks[active.command.trade_id] = active
                changed[active.command.trade_id] = active
        for task in sorted(
            (t for t in self.tasks.values() if t.phase is Phase.WAITING),
            key=lambda t: (t.command.window_start, t.command.trade_id),
        ):
            cmd = task.command
            if now >= cmd.window_end:  # missed its whole window (house was offline)
                task = replace(task, phase=Phase.DONE, opened_at=now, reason="window_end")
            elif now >= cmd.window_start and self._active(cmd.direction) is None:
                task = replace(task, phase=Phase.CLOSED, closed_at=now)
            else:
                continue
            self.tasks[cmd.trade_id] = task
            changed[cmd.trade_id] = task
        return [changed[k] for k in sorted(changed)]
