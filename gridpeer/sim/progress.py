"""Terminal progress (rich) and Ctrl-C handling for long simulations."""

from __future__ import annotations

import signal
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class StopFlag:
    """Set by the first Ctrl-C (SIGINT); a second one aborts as usual."""

    def __init__(self) -> None:
        self.stop = False

    def __call__(self) -> bool:
        return self.stop


@contextmanager
def stop_on_ctrl_c(console: Console) -> Iterator[StopFlag]:
    """Catch Ctrl-C so the run stops after the current slot and keeps what is done."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signals can only be handled in the main thread
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: types.FrameType | None) -> None:
        if flag.stop:
            raise KeyboardInterrupt
        flag.stop = True
        console.print(
            "[yellow]Ctrl-C: stopping after this slot and writing the report "
            "(press again to abort)[/yellow]"
        )

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def make_progress(console: Console) -> Progress:
    """A progress bar showing slots done, percent, rate (house-slots/s) and ETA."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def rate_text(house_slots_per_s: float) -> str:
    """Human rate, e.g. ``1.2M house-slots/s``."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if house_slots_per_s >= div:
            return f"{house_slots_per_s / div:.1f}{unit} house-slots/s"
    return f"{house_slots_per_s:.0f} house-slots/s"
