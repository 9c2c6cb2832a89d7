"""Retraining the cooling model on a schedule from the agent's own history store, champion/challenger.

Every ``recommender.retrain_interval_h`` the agent exports the last ``retrain_window_days`` of
15-minute site history, keeps the intervals with complete data and splits them in time: the rows of
the last ``retrain_holdout_days`` that the model in use (the champion) never saw are the hold-out;
a new model (the challenger) is fitted on the rows before them, in a worker thread (the event loop
keeps polling). Both models are scored on the same hold-out rows (:mod:`models.holdout`: facility
power MAE and CV(RMSE), hottest-inlet MAE); the challenger replaces the champion only if it predicts
facility power strictly better and the hottest inlet not worse (within
``retrain_swap_inlet_tolerance_c``); a tie keeps the champion. With no champion yet, the challenger
is used (still fitted without its hold-out, so its scores are honest and the next retraining has
rows it never saw). The recommender keeps its rate-limit state across a swap.

The decision, both scores and the hold-out rows used are logged, appended to ``swaps.jsonl`` in the
model directory (beside a swapped-in model, whose sidecar carries them too) and exported
(:mod:`agent.export.retrain`). A fit that fails (too little data, too little setpoint variation)
keeps the old model and says why once, in the log and in ``pue_model_retrain_info``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from agent.errors import PueAgentError

__all__ = ["SWAPS_FILE", "RetrainOutcome", "Retrainer", "training_csv_from_store"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

MIN_COVERAGE = 0.95
RESOLUTION_S = 900
#: Fewest hold-out rows (complete 15-min intervals the champion never saw) a comparison needs: 4 hours.
MIN_HOLDOUT_ROWS = 16
#: JSON lines of every champion/challenger decision, in the model directory.
SWAPS_FILE = "swaps.jsonl"


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """One retraining: when, whether it gave a model, on how many rows, why not, and how well it validates."""

    timestamp_s: float
    ok: bool
    #: complete 15-min intervals read: fitted on (all but the hold-out) and scored on (the hold-out)
    rows: int
    message: str
    model_version: str | None = None
    #: hold-out validation of the new model (models.cooling.ValidationReport): PUE, hottest inlet, cooling W
    pue_mae: float | None = None
    max_inlet_mae_c: float | None = None
    cooling_power_mae_w: float | None = None
    #: champion/challenger: "swapped" or "kept" (None when the fit failed)
    swap: str | None = None
    #: complete 15-min intervals both models were scored on, and their time range (UTC epoch s)
    holdout_rows: int = 0
    holdout_start_s: float | None = None
    holdout_end_s: float | None = None
    #: models.holdout.HoldoutScore of the model in use before and of the retrained one (None: no model before)
    champion: Any = None
    challenger: Any = None
    champion_version: str | None = None


def training_csv_from_store(
    store: Any, start_s: float, end_s: float, out: Path, levers: tuple[str, ...] | None = None
) -> int:
    """Write the complete 15-min intervals of ``[start_s, end_s)`` as a canonical history CSV.

    The levers the site logged (agent/history/levers.py; of ``levers`` only, when given) come along as columns
    when at least :data:`~agent.control.training.MIN_ROWS` complete intervals know all of them: then only those
    intervals are written (a lever is learned from the rows that know it); else the levers are left out.
    """
    from agent.control.training import MIN_ROWS
    from agent.history.export import history_table
    from agent.history.levers import LEVER_COLUMNS
    from agent.history.site_csv import SITE_HISTORY_COLUMNS

    names, rows = history_table(store, start_s, end_s, RESOLUTION_S)
    index = {name: i for i, name in enumerate(names)}
    complete = [
        row
        for row in rows
        if float(row[index["coverage"]] or 0) >= MIN_COVERAGE and all(row[index[c]] != "" for c in SITE_HISTORY_COLUMNS)
    ]
    wanted = [c for c in LEVER_COLUMNS if c in index and (levers is None or c in levers)]
    with_levers = [row for row in complete if all(row[index[c]] != "" for c in wanted)]
    if not wanted or len(with_levers) < MIN_ROWS:
        wanted, with_levers = [], complete
    columns = (*SITE_HISTORY_COLUMNS, *wanted)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([row[index[c]] for c in columns] for row in with_levers)
    return len(with_levers)


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


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def _subset(table: Any, mask: Any) -> Any:
    from agent.control.history_io import Table

    return Table(
        path=table.path,
        timestamps=tuple(t for t, keep in zip(table.timestamps, mask, strict=True) if keep),
        epoch_s=table.epoch_s[mask],
        columns={name: values[mask] for name, values in table.columns.items()},
    )


@dataclass(frozen=True)
class _Fitted:
    """What the worker thread hands back to the loop."""

    model: Any
    outcome: RetrainOutcome
    trained_until_s: float


class Retrainer:
    """Periodic champion/challenger retraining for :class:`agent.control.controller.CoolingController`'s recommender.

    Parameters
    ----------
    store_path : pathlib.Path or str
        The agent's SQLite history file; with ``open_store``, what the model's source names (a redacted url).
    controller : CoolingController
        Whose ``recommender`` (and its ``model``, the champion) is replaced on a swap.
    window_days : float
        History each retraining reads [d].
    clock : callable
        Time now, UTC epoch [s].
    model_dir : pathlib.Path, optional
        Where a swapped-in model is saved (so a restart loads it) and ``swaps.jsonl`` is appended.
    holdout_days : float
        The most recent rows held out for the comparison [d].
    inlet_tolerance_c : float
        How much worse the challenger's hottest-inlet MAE may be [K].
    champion_last_row_s : float, optional
        Start of the last 15-min interval the champion was fitted on (its sidecar's training window end);
        None: the champion is assumed never to have seen the hold-out.
    fit : callable, optional
        ``fit(table) -> CoolingModel`` (default :func:`agent.control.training.fit_from_history`).
    open_store : callable, optional
        Opens the history store to read (a shared PostgreSQL history, read-only); default: the SQLite file.
    """

    def __init__(
        self,
        store_path: Path | str,
        controller: Any,
        window_days: float,
        clock: Callable[[], float] = time.time,
        model_dir: Path | None = None,
        holdout_days: float = 2.0,
        inlet_tolerance_c: float = 0.05,
        champion_last_row_s: float | None = None,
        fit: Callable[[Any], Any] | None = None,
        open_store: Callable[[], Any] | None = None,
    ) -> None:
        if holdout_days <= 0 or holdout_days >= window_days:
            raise ValueError("holdout_days must be > 0 and shorter than window_days")
        self._store_path = store_path
        self._open_store = open_store
        self._controller = controller
        self._window_s = window_days * 86400.0
        self._holdout_s = holdout_days * 86400.0
        self._inlet_tolerance_c = inlet_tolerance_c
        self._clock = clock
        self._model_dir = model_dir
        self._fit_table = fit
        self.champion_last_row_s = champion_last_row_s
        self.last: RetrainOutcome | None = None
        self.last_success: RetrainOutcome | None = None
        #: the last champion/challenger comparison (an outcome with ``swap`` set)
        self.last_decision: RetrainOutcome | None = None
        #: retrainings so far by result ("ok", "failed")
        self.counts: dict[str, int] = {"ok": 0, "failed": 0}
        #: champion/challenger decisions so far by outcome ("swapped", "kept")
        self.swaps: dict[str, int] = {"swapped": 0, "kept": 0}

    def _read(self, now: float) -> Any:
        from agent.control.history_io import read_site_history
        from agent.history import SqliteHistoryStore

        store = self._open_store() if self._open_store is not None else SqliteHistoryStore(self._store_path)
        try:
            with tempfile.TemporaryDirectory(prefix="pue-retrain-") as tmp:
                path = Path(tmp) / "history.csv"
                # only the levers the site lists (recommender.levers): a model must not learn one it may not set
                listed = tuple(lever.name for lever in getattr(getattr(self._controller, "rcfg", None), "levers", ()))
                training_csv_from_store(store, now - self._window_s, now, path, levers=listed)
                return read_site_history(path)
        finally:
            store.close()

    def _fit(self, now: float, champion: Any) -> _Fitted:
        from threadpoolctl import threadpool_limits

        from agent.control.training import fit_from_history, inputs_of
        from models.holdout import decide_swap, score_on_holdout

        table = self._read(now)
        holdout_start = now - self._holdout_s
        if champion is not None and self.champion_last_row_s is not None:
            holdout_start = max(holdout_start, self.champion_last_row_s + 1.0)  # rows it never saw
        held = table.epoch_s >= holdout_start
        n_held = int(np.count_nonzero(held))
        if n_held < MIN_HOLDOUT_ROWS:
            since = "in the hold-out window" if champion is None else "the current model never saw"
            raise _Kept(
                f"kept the current model: only {n_held} complete 15-min intervals {since} "
                f"(since {_iso(holdout_start)}), need {MIN_HOLDOUT_ROWS} to compare"
            )
        train, hold = _subset(table, ~held), _subset(table, held)
        lacking = [c for c in _levers(champion) if c not in hold.columns]
        if lacking:  # the history no longer logs a lever the model in use needs: it cannot be scored, so it stays
            raise _Kept(f"kept the current model: the history's latest intervals do not log its levers {lacking}")
        # one OpenMP thread: the fit runs beside the poller, and on a busy 2-core box the default thread
        # count made the same fit take 941 s instead of 20-24 s (tests' retrain fit, helper measurement)
        with threadpool_limits(limits=1):
            model = (self._fit_table or fit_from_history)(train)
            measured = hold.columns["facility_power_w"], hold.columns["max_inlet_c"]
            # each model on its own inputs: the base columns plus the levers it learned (models/levers.py)
            challenger = score_on_holdout(model, inputs_of(hold, _levers(model)), *measured)
            champion_score = (
                score_on_holdout(champion, inputs_of(hold, _levers(champion)), *measured)
                if champion is not None
                else None
            )
        if champion_score is None:
            swap, reason = True, f"no model in use: using the retrained one (scored on {n_held} hold-out rows)"
        else:
            decision = decide_swap(champion_score, challenger, self._inlet_tolerance_c)
            swap, reason = decision.swap, decision.reason
        validation = getattr(model, "validation", None)
        outcome = RetrainOutcome(
            now,
            True,
            len(table),
            f"retrained on {len(train)} complete 15-min intervals, scored on the next {n_held}; {reason}",
            str(getattr(model, "version", "")),
            pue_mae=getattr(validation, "pue_mae", None),
            max_inlet_mae_c=getattr(validation, "max_inlet_mae_c", None),
            cooling_power_mae_w=getattr(validation, "cooling_power_mae_w", None),
            swap="swapped" if swap else "kept",
            holdout_rows=n_held,
            holdout_start_s=float(hold.epoch_s[0]),
            holdout_end_s=float(hold.epoch_s[-1]),
            champion=champion_score,
            challenger=challenger,
            champion_version=str(getattr(champion, "version", "")) if champion is not None else None,
        )
        trained_until = float(train.epoch_s[-1])
        self._persist(model if swap else None, outcome, train, trained_until)
        return _Fitted(model, outcome, trained_until)

    def _persist(self, model: Any, outcome: RetrainOutcome, train: Any, trained_until_s: float) -> None:
        """Append the decision to ``swaps.jsonl`` and save a swapped-in model, in the model directory."""
        if self._model_dir is None:
            return
        record = _decision_record(outcome)
        try:
            if model is not None:
                from agent.control.artefact import save_model

                window = {"start": _iso(float(train.epoch_s[0])), "end": _iso(trained_until_s), "rows": len(train)}
                save_model(
                    model,
                    self._model_dir,
                    window,
                    source=f"agent history {self._store_path}",
                    extra={"champion_challenger": record},
                )
            self._model_dir.mkdir(parents=True, exist_ok=True)
            with (self._model_dir / SWAPS_FILE).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        except OSError as err:
            log.error("model retraining: cannot save to %s: %s (the decision stands in memory)", self._model_dir, err)

    async def run_once(self) -> RetrainOutcome:
        now = self._clock()
        recommender = self._controller.recommender
        champion = recommender.model if recommender is not None else None
        try:
            fitted = await _in_daemon_thread(lambda: self._fit(now, champion))
        except _Kept as kept:
            outcome = RetrainOutcome(now, False, 0, str(kept))
            self._settle_failed(outcome)
            return outcome
        except (PueAgentError, ValueError) as err:
            self._settle_failed(RetrainOutcome(now, False, 0, f"kept the current model: {err}"))
            assert self.last is not None
            return self.last
        outcome = fitted.outcome
        if outcome.swap == "swapped":
            recommender = self._controller.recommender
            levers_now = tuple(spec.name for spec in getattr(recommender, "levers", ()))
            if recommender is None or levers_now != tuple(getattr(fitted.model, "lever_columns", ())):
                # a new recommender for other levers (its rate-limit clocks start again)
                from agent.control.recommender_setup import recommender_for

                self._controller.recommender = recommender_for(fitted.model, self._controller.rcfg)
            else:
                recommender.model = fitted.model
            self.champion_last_row_s = fitted.trained_until_s
            on_swap = getattr(self._controller, "on_model_swapped", None)
            if callable(on_swap):
                on_swap(outcome)
        self.last = self.last_success = self.last_decision = outcome
        self.counts["ok"] += 1
        self.swaps[str(outcome.swap)] += 1
        log.info(
            "model retraining: %s; hold-out %s .. %s; challenger %s, champion %s",
            outcome.message,
            _iso(outcome.holdout_start_s or now),
            _iso(outcome.holdout_end_s or now),
            outcome.challenger,
            outcome.champion,
        )
        return outcome

    def _settle_failed(self, outcome: RetrainOutcome) -> None:
        if self.last is None or self.last.message != outcome.message:
            log.warning("model retraining: %s", outcome.message)
        self.last = outcome
        self.counts["failed"] += 1


class _Kept(Exception):
    """Nothing to compare on yet: the champion stays (a failed retraining with its reason)."""


def _decision_record(outcome: RetrainOutcome) -> dict[str, Any]:
    def score(s: Any) -> Any:
        return s.as_dict() if s is not None else None

    return {
        "timestamp": _iso(outcome.timestamp_s),
        "outcome": outcome.swap,
        "reason": outcome.message,
        "challenger_version": outcome.model_version,
        "champion_version": outcome.champion_version,
        "training_rows": outcome.rows,
        "holdout_rows": outcome.holdout_rows,
        "holdout_start": _iso(outcome.holdout_start_s) if outcome.holdout_start_s is not None else None,
        "holdout_end": _iso(outcome.holdout_end_s) if outcome.holdout_end_s is not None else None,
        "challenger": score(outcome.challenger),
        "champion": score(outcome.champion),
    }


def _levers(model: object) -> tuple[str, ...]:
    return tuple(getattr(model, "lever_columns", ()))
