"""Realised savings: after every applied change, what it saved, measured against the model's prediction.

Each change the controller applies opens an evaluation: the site ticks of the ``realised_window_s`` before
it (the plant at the old setpoints) are kept, the ticks of the ``realised_settle_s`` after it are skipped
(the plant and the polls catch up), and the ticks of the next ``realised_window_s`` at the new setpoints
are collected. Then :func:`models.realised.realised_saving` compares the measured facility power with the
model's prediction at the old setpoints for the same conditions (weather and IT load), bias-corrected with
the ticks before, and the model's predicted saving for the same ticks; one standard deviation comes with
it. A further change before the window is half full merges into the evaluation (old setpoints stay those
before the first change); after that it closes the evaluation early. A revert, or setpoints moved by
someone else, close it likewise (or drop it, too few ticks, saying why).

Every result is appended to ``realised_log`` (JSON lines) and read back at start, so the day and month
sums and the run of poor realisations survive a restart. ``poor_realisations_to_pause`` results in a row
that realised less than predicted by more than twice their standard deviation pause the controller for
``poor_realisation_pause_h`` (a held-back reason says so), or until a retrained model is swapped in.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["RealisedSavings", "Sample"]

log = logging.getLogger(__name__)

#: closed evaluations kept in memory (a month of a busy auto mode); older ones stay in the log file
_KEEP = 5000
_SAME_K = 0.01  # setpoints within this are the same [K]
#: what every logged result carries (the sums read them)
_NUMBERS = ("id", "closed_s", "realised_w", "predicted_w", "std_w", "duration_s", "energy_kwh", "predicted_energy_kwh")


@dataclass(frozen=True)
class Sample:
    """One healthy site tick: conditions, the plant's setpoints, measured facility power."""

    timestamp_s: float
    it_power_w: float
    outdoor_dry_bulb_c: float
    outdoor_wet_bulb_c: float
    #: (supply air [C], chilled water [C], economizer, the site's levers in the model's order...)
    setpoints: tuple[float, ...]
    facility_power_w: float

    @property
    def conditions(self) -> tuple[float, float, float]:
        return (self.it_power_w, self.outdoor_dry_bulb_c, self.outdoor_wet_bulb_c)


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """The same setpoints (levers, in their own units, within 1e-4 of their value or ``_SAME_K``)."""
    if len(a) != len(b):
        return False
    levers = all(abs(x - y) <= max(_SAME_K, 1e-4 * abs(x)) for x, y in zip(a[3:], b[3:], strict=True))
    return abs(a[0] - b[0]) <= _SAME_K and abs(a[1] - b[1]) <= _SAME_K and a[2] == b[2] and levers


@dataclass
class _Evaluation:
    id: int
    changed_s: float
    old: tuple[float, ...]
    target: tuple[float, ...]
    settle_until_s: float
    predicted_at_offer_w: float
    before: list[Sample]
    after: list[Sample] = field(default_factory=list)
    #: the setpoints the plant actually ran after settling (a device may round the written value)
    new: tuple[float, ...] | None = None


class RealisedSavings:
    """Opens, collects and closes evaluations of applied changes; keeps the results and the pause.

    Parameters
    ----------
    settle_s, window_s : float
        Ticks skipped after a change, and the span collected after (and kept before) it [s].
    log_path : pathlib.Path or None
        JSON-lines log, appended to and read back at start.
    timezone : str
        IANA zone of the day and month sums.
    poor_to_pause : int
        Poor results in a row that pause the controller (0: never).
    pause_s : float
        How long the pause lasts [s].
    clock : callable
        Time now (for the sums' day and month).
    """

    def __init__(
        self,
        settle_s: float,
        window_s: float,
        log_path: Path | None,
        timezone: str = "UTC",
        poor_to_pause: int = 3,
        pause_s: float = 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settle_s = settle_s
        self.window_s = window_s
        self.log_path = log_path
        self.zone = ZoneInfo(timezone)
        self.poor_to_pause = poor_to_pause
        self.pause_s = pause_s
        self._clock = clock
        self._ticks: deque[Sample] = deque()
        self.open: _Evaluation | None = None
        #: closed evaluations, oldest first (dicts as logged)
        self.results: deque[dict[str, Any]] = deque(maxlen=_KEEP)
        #: evaluations by result: met (within its uncertainty or better), short (poor), dropped (too few ticks)
        self.counts: dict[str, int] = {"met": 0, "short": 0, "dropped": 0}
        self.poor_in_a_row = 0
        self.paused_until_s = 0.0
        self.pause_reason: str | None = None
        self._next_id = 1
        self._load()

    # --- persistence ----------------------------------------------------------------------------
    def _load(self) -> None:
        if self.log_path is None or not self.log_path.is_file():
            return
        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            log.error("realised savings log %s unreadable: %s (sums start from zero)", self.log_path, err)
            return
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
                for key in _NUMBERS:
                    float(record[key])
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: not a realised-savings record, skipped", self.log_path, number)
                continue
            self.results.append(record)
            self.counts[str(record.get("result", "met"))] = self.counts.get(str(record.get("result", "met")), 0) + 1
            self.poor_in_a_row = int(record.get("poor_in_a_row", 0))
            self.paused_until_s = float(record.get("paused_until_s") or 0.0)
            self.pause_reason = record.get("pause_reason")
            self._next_id = max(self._next_id, int(record.get("id", 0)) + 1)
        if self.results:
            log.info("realised savings: %d results read back from %s", len(self.results), self.log_path)

    def _append(self, record: dict[str, Any]) -> None:
        self.results.append(record)
        if self.log_path is None:
            return
        try:
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        except OSError as err:
            log.error("realised savings log %s not writable: %s (kept in memory)", self.log_path, err)

    # --- events ---------------------------------------------------------------------------------
    def applied(
        self,
        now_s: float,
        old: tuple[float, ...],
        new: tuple[float, ...],
        predicted_w: float,
        model: Any,
    ) -> None:
        """The controller wrote ``new`` over ``old`` at ``now_s`` (``predicted_w``: the saving it was offered for)."""
        ev = self.open
        if ev is not None:
            if self._collected_s(ev) >= self.window_s / 2:
                self._close(ev, model, now_s, "closed early by the next change")
            else:  # merged: still measured against the setpoints before the first change
                ev.target, ev.new, ev.after = new, None, []
                ev.settle_until_s = now_s + self.settle_s
                ev.predicted_at_offer_w += predicted_w
                return
        before = [s for s in self._ticks if s.timestamp_s >= now_s - self.window_s and _same(s.setpoints, old)]
        self.open = _Evaluation(self._next_id, now_s, old, new, now_s + self.settle_s, predicted_w, before)
        self._next_id += 1

    def reverted(self, now_s: float, model: Any, why: str) -> None:
        """Our setpoints were reverted: the open evaluation ends here."""
        if self.open is not None:
            self._close(self.open, model, now_s, f"ended by a revert ({why})")

    def observe(self, sample: Sample, model: Any) -> None:
        """A healthy site tick."""
        now = sample.timestamp_s
        self._ticks.append(sample)
        while self._ticks and self._ticks[0].timestamp_s < now - self.window_s:
            self._ticks.popleft()
        ev = self.open
        if ev is None or now < ev.settle_until_s:
            return
        if ev.new is None:
            if _same(sample.setpoints, ev.old):
                self._close(ev, model, now, "the plant still ran the old setpoints after the settle time")
                return
            ev.new = sample.setpoints
        if not _same(sample.setpoints, ev.new):
            self._close(ev, model, now, "setpoints changed by someone else")
            return
        ev.after.append(sample)
        if now - ev.settle_until_s >= self.window_s:
            self._close(ev, model, now, "measured")

    def _collected_s(self, ev: _Evaluation) -> float:
        return ev.after[-1].timestamp_s - ev.after[0].timestamp_s if len(ev.after) > 1 else 0.0

    def _close(self, ev: _Evaluation, model: Any, now_s: float, why: str) -> None:
        from models.realised import is_poor, realised_saving

        self.open = None
        record: dict[str, Any] = {
            "id": ev.id,
            "changed_s": ev.changed_s,
            "closed_s": now_s,
            "old_setpoints": list(ev.old),
            "new_setpoints": list(ev.new or ev.target),
            "predicted_at_offer_w": ev.predicted_at_offer_w,
            "model_version": str(getattr(model, "version", "")),
            "why": why,
        }
        if model is None or not ev.after or (why != "measured" and self._collected_s(ev) < self.window_s / 2):
            self.counts["dropped"] += 1
            log.info("realised saving of change %d not measured: %s (%d ticks after it)", ev.id, why, len(ev.after))
            return
        try:
            saving = realised_saving(
                model,
                ev.old,
                ev.new or ev.target,
                [s.timestamp_s for s in ev.after],
                [s.conditions for s in ev.after],
                [s.facility_power_w for s in ev.after],
                [s.timestamp_s for s in ev.before],
                [s.conditions for s in ev.before] or [],
                [s.facility_power_w for s in ev.before],
            )
        except ValueError as err:
            self.counts["dropped"] += 1
            log.warning("realised saving of change %d not measured: %s", ev.id, err)
            return
        poor = is_poor(saving)
        self.poor_in_a_row = self.poor_in_a_row + 1 if poor else 0
        result = "short" if poor else "met"
        self.counts[result] += 1
        if poor and self.poor_to_pause and self.poor_in_a_row >= self.poor_to_pause:
            self.paused_until_s = now_s + self.pause_s
            self.pause_reason = (
                f"paused after {self.poor_in_a_row} applied changes in a row realised less than predicted: the last "
                f"saved {saving.realised_w:.0f} +- {saving.std_w:.0f} W against {saving.predicted_w:.0f} W predicted "
                f"(poor_realisations_to_pause {self.poor_to_pause}); resumes in {self.pause_s / 3600:g} h or when a "
                "retrained model is swapped in"
            )
            log.warning("controller %s", self.pause_reason)
        record.update(saving.as_dict())
        record.update(
            result=result,
            poor_in_a_row=self.poor_in_a_row,
            paused_until_s=self.paused_until_s,
            pause_reason=self.pause_reason,
        )
        self._append(record)
        log.info(
            "realised saving of change %d: %.0f +- %.0f W against %.0f W predicted over %d ticks (%s)",
            ev.id,
            saving.realised_w,
            saving.std_w,
            saving.predicted_w,
            saving.n_after,
            result,
        )

    # --- pause ----------------------------------------------------------------------------------
    def paused(self, now_s: float) -> str | None:
        """The held-back reason while paused, else None (a pause that ran out resets the run)."""
        if self.pause_reason is None:
            return None
        if now_s < self.paused_until_s:
            return self.pause_reason
        self.resume("the pause ran out")
        return None

    def resume(self, why: str) -> None:
        if self.pause_reason is not None:
            log.info("realised savings: controller resumes: %s", why)
        self.pause_reason = None
        self.paused_until_s = 0.0
        self.poor_in_a_row = 0

    # --- sums -----------------------------------------------------------------------------------
    def period_sums(self, now_s: float | None = None) -> dict[str, dict[str, float]]:
        """Sums over the results closed today and this month (site time zone): W, kWh, predicted, uncertainty."""
        now = datetime.fromtimestamp(self._clock() if now_s is None else now_s, self.zone)
        out: dict[str, dict[str, float]] = {}
        for period, start in (
            ("day", now.replace(hour=0, minute=0, second=0, microsecond=0)),
            ("month", now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)),
        ):
            chosen = [r for r in self.results if float(r["closed_s"]) >= start.timestamp() and "realised_w" in r]
            std_w = sum(float(r["std_w"]) ** 2 for r in chosen) ** 0.5
            std_kwh = sum((float(r["std_w"]) * float(r["duration_s"]) / 3.6e6) ** 2 for r in chosen) ** 0.5
            out[period] = {
                "actions": float(len(chosen)),
                "realised_w": sum(float(r["realised_w"]) for r in chosen),
                "predicted_w": sum(float(r["predicted_w"]) for r in chosen),
                "std_w": std_w,
                "realised_kwh": sum(float(r["energy_kwh"]) for r in chosen),
                "predicted_kwh": sum(float(r["predicted_energy_kwh"]) for r in chosen),
                "std_kwh": std_kwh,
            }
        return out

    def as_json(self, last: int = 20) -> dict[str, Any]:
        """For the API: the latest results, the sums, the pause."""
        return {
            "results": list(self.results)[-last:],
            "sums": self.period_sums(),
            "counts": dict(self.counts),
            "poor_in_a_row": self.poor_in_a_row,
            "paused_until_s": self.paused_until_s if self.pause_reason else None,
            "pause_reason": self.pause_reason,
            "open": None
            if self.open is None
            else {"id": self.open.id, "changed_s": self.open.changed_s, "ticks_after": len(self.open.after)},
        }
