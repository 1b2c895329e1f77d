"""Delivery execution in the home agent: a pure state machine, idempotent by trade id.

For each accepted :class:`~gridpeer.telemetry.delivery.DeliveryCommand` the executor

1. waits until the window starts, then closes the relay of the command's direction
   (the seller's OUT relay, the buyer's IN relay);
2. integrates the metered power of that relay into Wh at every :meth:`step`;
3. ends the trade when its target is reached or its window ends, whichever is first
   (the relay opens when no trade of its direction is left);
4. yields a :class:`~gridpeer.telemetry.delivery.DeliveryResult` with the measured Wh.

One relay per direction serves every trade of that direction whose window is open, at
once: its metered energy is split among them by
:func:`~gridpeer.market.delivery_split.share_energy` (pro rata to the contracted Wh, each
capped at its contract), and trades that finish together are rounded to whole Wh as a
group (:func:`~gridpeer.market.delivery_split.round_group`), so their results add up to
what the relay metered. A command seen twice is executed once. Energy in Wh (float while
integrating, whole Wh once done), power W, times UTC (model time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from gridpeer.market.delivery_split import round_group, share_energy
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
        measured_wh: this trade's share of the energy metered through the relay so far,
            Wh (whole Wh once done).
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
        self._open = {k for k, t in self.tasks.items() if t.phase is not Phase.DONE}

    def busy(self) -> bool:
        """True while a delivery waits for its window or runs (O(1): an idle house's
        step can be skipped)."""
        return bool(self._open)

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
        self._open.add(command.trade_id)
        return True

    def relay_closed(self, direction: Direction) -> bool:
        """True while a delivery of ``direction`` has its relay closed."""
        return bool(self._active(direction))

    def shares(self, direction: Direction) -> dict[int, float]:
        """Trades the relay of ``direction`` serves now → the fraction of its power that
        goes to each (pro rata to contracted Wh among those still short; sums to 1)."""
        short = [t for t in self._active(direction) if t.measured_wh < t.command.target_wh - 1e-9]
        total = sum(max(t.command.target_wh, 1e-9) for t in short)
        return {t.command.trade_id: max(t.command.target_wh, 1e-9) / total for t in short}

    def _active(self, direction: Direction) -> list[Task]:
        return sorted(
            (
                t
                for t in self.tasks.values()
                if t.phase is Phase.CLOSED and t.command.direction is direction
            ),
            key=lambda t: t.command.trade_id,
        )

    def step(
        self,
        now: datetime,
        power_w: dict[Direction, float],
        dt_s: float,
        trade_wh: Mapping[Direction, Mapping[int, float]] | None = None,
    ) -> list[Task]:
        """Advance to ``now``.

        Args:
            now: current UTC model time.
            power_w: metered power through each closed relay over the last ``dt_s``
                seconds, W (>= 0; missing directions count as 0).
            dt_s: model seconds since the previous step (>= 0).
            trade_wh: for a direction whose meter tells trades apart, each trade's metered
                energy over the step, Wh (>= 0; used instead of splitting ``power_w`` pro
                rata to the contracts; each trade still capped at its contract).

        Returns:
            The tasks that changed (closed or finished), in trade id order.
        """
        if dt_s < 0:
            raise ValueError(f"dt_s must be >= 0, got {dt_s}")
        changed: dict[int, Task] = {}
        for direction in Direction:
            active = self._active(direction)
            if not active:
                continue
            per_trade = trade_wh.get(direction) if trade_wh is not None else None
            if per_trade is not None:
                parts = [max(0.0, float(per_trade.get(t.command.trade_id, 0.0))) for t in active]
            else:
                p = max(0.0, float(power_w.get(direction, 0.0)))
                parts = share_energy(
                    p * dt_s / 3600.0,
                    [float(t.command.target_wh) for t in active],
                    [t.measured_wh for t in active],
                )
            ending: list[Task] = []
            for t, part in zip(active, parts, strict=True):
                t = replace(t, measured_wh=min(float(t.command.target_wh), t.measured_wh + part))
                if t.measured_wh >= t.command.target_wh - 1e-9:
                    t = replace(t, phase=Phase.DONE, opened_at=now, reason="target")
                    t = replace(t, measured_wh=float(t.command.target_wh))
                elif now >= t.command.window_end:
                    t = replace(t, phase=Phase.DONE, opened_at=now, reason="window_end")
                if t.phase is Phase.DONE:
                    ending.append(t)
                self.tasks[t.command.trade_id] = t
                changed[t.command.trade_id] = t
            whole = round_group(
                [t.measured_wh for t in ending], [t.command.trade_id for t in ending]
            )
            for t, wh in zip(ending, whole, strict=True):
                t = replace(t, measured_wh=float(wh))
                self.tasks[t.command.trade_id] = t
                changed[t.command.trade_id] = t
        for task in sorted(
            (t for t in self.tasks.values() if t.phase is Phase.WAITING),
            key=lambda t: (t.command.window_start, t.command.trade_id),
        ):
            cmd = task.command
            if now >= cmd.window_end:  # missed its whole window (house was offline)
                task = replace(task, phase=Phase.DONE, opened_at=now, reason="window_end")
            elif now >= cmd.window_start:  # joins the relay at once, beside any others
                task = replace(task, phase=Phase.CLOSED, closed_at=now)
            else:
                continue
            self.tasks[cmd.trade_id] = task
            changed[cmd.trade_id] = task
        for k, t in changed.items():
            if t.phase is Phase.DONE:
                self._open.discard(k)
        return [changed[k] for k in sorted(changed)]
