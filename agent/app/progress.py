"""Progress of the commands that take more than a few seconds, on stderr.

On a terminal: a transient ``rich`` bar (or a spinner when the total is unknown) with the elapsed time, gone when
the step ends. Anywhere else (logs, CI, tests): nothing for a step that ends within ``every_s``, then one plain
line every ``every_s`` and a last line with the time it took::

    model fit: fitting the cooling model: 30 s elapsed
    import: 12.5/41.0 MB (30 %), 52,000 rows: 10 s elapsed
    import: done in 31.2 s

``show="always"`` (``import --progress``) prints plain lines from the first update; ``"never"`` prints nothing.

Usage::

    with progress("twin simulate: simulating 365 days", total=35040, unit="steps") as step:
        for i in ...:
            step.update(i + 1)
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, TextIO

__all__ = ["Show", "Step", "progress"]

Show = Literal["auto", "always", "never"]


class Step:
    """What a running step reports: work done of its total (if known) and a short note (e.g. rows read)."""

    def __init__(self) -> None:
        self.completed = 0.0
        self.total: float | None = None
        self.note = ""
        self._listeners: list[Any] = []

    def update(self, completed: float, total: float | None = None, note: str | None = None) -> None:
        self.completed = completed
        if total is not None:
            self.total = total
        if note is not None:
            self.note = note
        for listener in self._listeners:
            listener()


def _amount(value: float, unit: str) -> str:
    return f"{value:,.1f}" if unit == "MB" else f"{value:,.0f}"


class _PlainLines:
    """Plain lines on a stream that is not a terminal: first after ``every_s`` (or at once if asked), then every
    ``every_s``, from a background thread so a step with no updates (a model fit) still shows it is alive."""

    def __init__(self, label: str, unit: str, stream: TextIO, every_s: float, at_once: bool) -> None:
        self.label, self.unit, self.stream, self.every_s = label, unit, stream, every_s
        self.started_s = time.monotonic()
        self.last_s = self.started_s - (every_s if at_once else 0.0)
        self.printed = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, name=f"progress: {label}", daemon=True)
        self.step: Step | None = None

    def start(self, step: Step) -> None:
        self.step = step
        step._listeners.append(self._maybe_print)
        self._thread.start()

    def _line(self) -> str:
        step = self.step
        assert step is not None
        elapsed_s = time.monotonic() - self.started_s
        text = self.label
        if step.total:
            share = 100.0 * step.completed / step.total
            text += (
                f": {_amount(step.completed, self.unit)}/{_amount(step.total, self.unit)} {self.unit} ({share:.0f} %)"
            )
        if step.note:
            text += f", {step.note}"
        return f"{text}: {elapsed_s:.0f} s elapsed"

    def _maybe_print(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if force or now - self.last_s >= self.every_s:
                self.last_s = now
                self.printed = True
                print(self._line(), file=self.stream, flush=True)

    def _heartbeat(self) -> None:
        while not self._done.wait(min(1.0, self.every_s)):
            self._maybe_print()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        if self.printed:
            took_s = time.monotonic() - self.started_s
            print(f"{self.label}: done in {took_s:.1f} s", file=self.stream, flush=True)


@contextmanager
def progress(
    label: str,
    *,
    total: float | None = None,
    unit: str = "",
    show: Show = "auto",
    every_s: float = 10.0,
    stream: TextIO | None = None,
) -> Iterator[Step]:
    """Show a step's progress on ``stream`` (stderr) while the ``with`` block runs; see the module docstring."""
    out = stream if stream is not None else sys.stderr
    step = Step()
    step.total = total
    if show == "never":
        yield step
        return
    if out.isatty():
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
        columns += [TaskProgressColumn(), TextColumn("{task.fields[note]}"), TimeElapsedColumn()]
        with Progress(*columns, console=Console(file=out), transient=True) as bar:
            task = bar.add_task(label, total=total, note="")

            def refresh() -> None:
                bar.update(task, completed=step.completed, total=step.total, note=step.note)

            step._listeners.append(refresh)
            yield step
        return
    lines = _PlainLines(label, unit, out, every_s, at_once=show == "always")
    lines.start(step)
    try:
        yield step
    finally:
        lines.stop()
