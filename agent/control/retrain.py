"""Retraining the cooling model on a schedule from the agent's own history store.

Every ``recommender.retrain_interval_h`` the agent exports the last ``retrain_window_days`` of
15-minute site history, keeps the intervals with complete data, fits a new model in a worker
thread (the event loop keeps polling) and swaps it into the recommender, which keeps its rate-limit
state. A fit that fails (too little data, too little setpoint variation) keeps the old model and
says why once, in the log and in ``pue_model_retrain_info``.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import PueAgentError

__all__ = ["RetrainOutcome", "Retrainer", "training_csv_from_store"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

MIN_COVERAGE = 0.95
RESOLUTION_S = 900


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """One retraining: when, whether it gave a model, on how many rows, why not, and how well it validates."""

    timestamp_s: float
    ok: bool
    rows: int
    message: str
    model_version: str | None = None
    #: hold-out validation of the new model (models.cooling.ValidationReport): PUE, hottest inlet, cooling W
    pue_mae: float | None = None
    max_inlet_mae_c: float | None = None
    cooling_power_mae_w: float | None = None


def training_csv_from_store(store: Any, start_s: float, end_s: float, out: Path) -> int:
    """Write the complete 15-min intervals of ``[start_s, end_s)`` as a canonical history CSV."""
    from agent.history.export import EXPORT_COLUMNS, history_rows
    from agent.history.site_csv import SITE_HISTORY_COLUMNS

    rows = history_rows(store, start_s, end_s, RESOLUTION_S)
    index = {name: i for i, name in enumerate(EXPORT_COLUMNS)}
    kept = 0
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(SITE_HISTORY_COLUMNS)
        for row in rows:
            values = [row[index[c]] for c in SITE_HISTORY_COLUMNS]
            if float(row[index["coverage"]] or 0) < MIN_COVERAGE or any(v == "" for v in values):
                continue
            writer.writerow(values)
            kept += 1
    return kept


async def _in_daemon_thread(func: Callable[[], _T]) -> _T:
    """``func()`` on a daemon thread: the loop keeps polling, and a stop (SIGTERM) never waits for a fit that
    may take minutes on a busy machine (``asyncio.to_thread`` would hold the process until it ends)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, err: BaseException | None) -> None:
        if not future.done():
            if err is not None:
                future.set_exception(err)
            else:
                future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result: _T | None = None
        error: BaseException | None = None
        try:
            result = func()
        except BaseException as err:
            error = err
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop closed while fitting (the agent stopped): nobody waits any more
            pass

    threading.Thread(target=run, name="pue-retrain", daemon=True).start()
    return await future


class Retrainer:
    """Periodic retraining job for :class:`agent.control.controller.CoolingController`'s recommender."""

    def __init__(
        self,
        store_path: Path,
        controller: Any,
        window_days: float,
        clock: Callable[[], float] = time.time,
        model_dir: Path | None = None,
    ) -> None:
        self._store_path = store_path
        self._controller = controller
        self._window_s = window_days * 86400.0
        self._clock = clock
        self._model_dir = model_dir
        self.last: RetrainOutcome | None = None
        self.last_success: RetrainOutcome | None = None
        #: retrainings so far by result ("ok", "failed")
        self.counts: dict[str, int] = {"ok": 0, "failed": 0}

    def _fit(self) -> tuple[Any, int, str]:
        from threadpoolctl import threadpool_limits

        from agent.control.history_io import read_site_history
        from agent.control.training import fit_from_history
        from agent.history import SqliteHistoryStore

        now = self._clock()
        store = SqliteHistoryStore(self._store_path)
        try:
            with tempfile.TemporaryDirectory(prefix="pue-retrain-") as tmp:
                path = Path(tmp) / "history.csv"
                rows = training_csv_from_store(store, now - self._window_s, now, path)
                # one OpenMP thread: the fit runs beside the poller, and on a busy 2-core box the default thread
                # count made the same fit take 941 s instead of 20-24 s (tests' retrain fit, helper measurement)
                with threadpool_limits(limits=1):
                    model = fit_from_history(read_site_history(path))
        finally:
            store.close()
        if self._model_dir is not None:
            from datetime import UTC, datetime

            from agent.control.artefact import save_model

            window = {
                "start": datetime.fromtimestamp(now - self._window_s, UTC).isoformat(),
                "end": datetime.fromtimestamp(now, UTC).isoformat(),
                "rows": rows,
            }
            save_model(model, self._model_dir, window, source=f"agent history {self._store_path}")
        return model, rows, str(getattr(model, "version", ""))

    async def run_once(self) -> RetrainOutcome:
        now = self._clock()
        try:
            model, rows, version = await _in_daemon_thread(self._fit)
        except (PueAgentError, ValueError) as err:
            outcome = RetrainOutcome(now, False, 0, f"kept the current model: {err}")
            if self.last is None or self.last.message != outcome.message:
                log.warning("model retraining: %s", outcome.message)
            self.last = outcome
            self.counts["failed"] += 1
            return outcome
        if self._controller.recommender is None:
            from agent.control.controller import recommender_for

            self._controller.recommender = recommender_for(model, self._controller.rcfg)
        else:
            self._controller.recommender.model = model
        validation = getattr(model, "validation", None)
        self.last = self.last_success = RetrainOutcome(
            now,
            True,
            rows,
            f"retrained on {rows} complete 15-min intervals",
            version,
            pue_mae=getattr(validation, "pue_mae", None),
            max_inlet_mae_c=getattr(validation, "max_inlet_mae_c", None),
            cooling_power_mae_w=getattr(validation, "cooling_power_mae_w", None),
        )
        self.counts["ok"] += 1
        log.info("model retraining: %s (hold-out PUE MAE %s)", self.last.message, self.last.pue_mae)
        return self.last
