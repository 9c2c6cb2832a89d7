"""Champion/challenger retraining: a retrained model swaps in only if it predicts the latest hold-out better.

The history is the twin's (10 days at 15 min, with safe exploration), read in-process as the retrainer would
read its store (the store export itself is tests/core/test_retrain.py). Worse challengers are made
deterministically: fitted on rows whose measured powers were shuffled (a fixed permutation).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from threadpoolctl import threadpool_limits

from agent.config.site import RecommenderConfig
from agent.control.artefact import load_model, trained_until_s
from agent.control.history_io import Table, read_site_history
from agent.control.recommender_setup import recommender_for
from agent.control.retrain import SWAPS_FILE, Retrainer
from agent.control.training import fit_from_history
from agent.export.retrain import RetrainCollector
from models.cooling import CoolingModel
from models.holdout import HoldoutScore, decide_swap
from twin.history_csv import write_site_history
from twin.simulate import simulate
from twin.weather import load_site_weather

DAY_S = 86400.0
HOLDOUT_DAYS = 2.0


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Table:
    result = simulate(load_site_weather("guiyang"), days=10, step_s=900.0, explore_c=2.0, seed=3)
    path = tmp_path_factory.mktemp("swap") / "history.csv"
    write_site_history(result, path)
    return read_site_history(path)


def _now(table: Table) -> float:
    return float(table.epoch_s[-1]) + 900.0


def _rows(table: Table, mask: np.ndarray) -> Table:
    return Table(
        table.path,
        tuple(t for t, keep in zip(table.timestamps, mask, strict=True) if keep),
        table.epoch_s[mask],
        {k: v[mask] for k, v in table.columns.items()},
    )


def _corrupt(table: Table) -> Table:
    """The same rows with measured powers and inlets shuffled: a model of noise."""
    order = np.random.default_rng(7).permutation(len(table))
    columns = dict(table.columns)
    for name in ("facility_power_w", "cooling_power_w", "max_inlet_c"):
        columns[name] = columns[name][order]
    return replace(table, columns=columns)


@pytest.fixture(scope="module")
def train(table: Table) -> Table:
    return _rows(table, table.epoch_s < _now(table) - HOLDOUT_DAYS * DAY_S)


@pytest.fixture(scope="module")
def good(train: Table) -> CoolingModel:
    return fit_from_history(train)


@pytest.fixture(scope="module")
def bad(train: Table) -> CoolingModel:
    return fit_from_history(_corrupt(train))


class Controller:
    def __init__(self, model: CoolingModel | None) -> None:
        self.rcfg = RecommenderConfig()
        self.recommender = recommender_for(model, self.rcfg) if model is not None else None


class TableRetrainer(Retrainer):
    """Reads the module's table instead of exporting the store (the export is tested in test_retrain.py)."""

    def __init__(self, table: Table, *args: Any, **kwargs: Any) -> None:
        super().__init__(Path("unused.sqlite"), *args, **kwargs)
        self._table = table

    def _read(self, now: float) -> Table:
        return self._table


def _serving(train: Table, model: CoolingModel) -> Any:
    """A fit function that checks it got exactly the rows before the hold-out, and returns ``model``."""
    seen: list[Table] = []

    def fit(table: Table) -> CoolingModel:
        assert table.timestamps == train.timestamps  # fitted without the hold-out
        seen.append(table)
        return model

    fit.seen = seen  # type: ignore[attr-defined]
    return fit


def _metrics(retrainer: Retrainer) -> str:
    registry = CollectorRegistry()
    registry.register(RetrainCollector(retrainer))
    return generate_latest(registry).decode()


def test_decision_rule_ties_keep_and_inlet_guards() -> None:
    champion = HoldoutScore(100, 800.0, 0.3, 0.10)
    assert not decide_swap(champion, champion).swap  # a tie keeps the champion
    assert "ties" in decide_swap(champion, champion).reason
    assert not decide_swap(champion, HoldoutScore(100, 801.0, 0.31, 0.05)).swap
    assert decide_swap(champion, HoldoutScore(100, 799.0, 0.29, 0.10)).swap
    worse_inlet = HoldoutScore(100, 500.0, 0.2, 0.20)
    assert not decide_swap(champion, worse_inlet, inlet_tolerance_c=0.05).swap
    assert decide_swap(champion, worse_inlet, inlet_tolerance_c=0.15).swap
    with pytest.raises(ValueError):
        decide_swap(champion, HoldoutScore(99, 1.0, 0.0, 0.0))


def test_a_worse_retrained_model_is_not_swapped_in(
    table: Table, train: Table, good: CoolingModel, bad: CoolingModel, tmp_path: Path
) -> None:
    controller = Controller(good)
    recommender = controller.recommender
    fit = _serving(train, bad)
    retrainer = TableRetrainer(
        table, controller, 15, clock=lambda: _now(table), model_dir=tmp_path, holdout_days=HOLDOUT_DAYS, fit=fit
    )
    outcome = asyncio.run(retrainer.run_once())
    assert fit.seen
    print(f"worse challenger: {outcome.message}")
    assert outcome.ok and outcome.swap == "kept", outcome.message
    assert controller.recommender is recommender and recommender is not None and recommender.model is good
    assert outcome.challenger.facility_power_mae_w > outcome.champion.facility_power_mae_w
    assert outcome.holdout_rows == len(table) - len(train) == HOLDOUT_DAYS * 96
    assert "is worse" in outcome.message
    # the decision is persisted beside the artefact (no model saved: the champion stays)
    records = [json.loads(line) for line in (tmp_path / SWAPS_FILE).read_text().splitlines()]
    assert [r["outcome"] for r in records] == ["kept"]
    assert records[0]["holdout_rows"] == outcome.holdout_rows
    assert records[0]["champion"]["facility_power_mae_w"] == outcome.champion.facility_power_mae_w
    assert not (tmp_path / "model.json").exists()
    text = _metrics(retrainer)
    assert 'pue_model_swaps_total{outcome="kept"} 1.0' in text
    assert 'pue_model_swaps_total{outcome="swapped"} 0.0' in text
    mae = outcome.champion.facility_power_mae_w
    assert f'pue_model_holdout_error_facility_power_mae_watts{{model="champion"}} {mae!r}' in text
    assert 'pue_model_holdout_error_max_inlet_mae_celsius{model="challenger"}' in text
    assert "pue_model_holdout_rows 192.0" in text


def test_a_better_retrained_model_is_swapped_in_and_saved(
    table: Table, train: Table, good: CoolingModel, bad: CoolingModel, tmp_path: Path
) -> None:
    controller = Controller(bad)
    recommender = controller.recommender
    retrainer = TableRetrainer(
        table,
        controller,
        15,
        clock=lambda: _now(table),
        model_dir=tmp_path,
        holdout_days=HOLDOUT_DAYS,
        fit=_serving(train, good),
    )
    outcome = asyncio.run(retrainer.run_once())
    print(f"better challenger: {outcome.message}")
    assert outcome.swap == "swapped", outcome.message
    assert controller.recommender is recommender and recommender is not None and recommender.model is good
    assert outcome.challenger.facility_power_mae_w < outcome.champion.facility_power_mae_w
    loaded = load_model(tmp_path)
    assert loaded.model.version == good.version
    assert loaded.sidecar["champion_challenger"]["outcome"] == "swapped"
    assert loaded.sidecar["champion_challenger"]["champion_version"] == bad.version
    # the next comparison uses only rows the new champion never saw
    assert retrainer.champion_last_row_s == float(train.epoch_s[-1]) == trained_until_s(loaded.sidecar)
    # the same challenger again ties with the model it now is: kept
    again = asyncio.run(retrainer.run_once())
    assert again.swap == "kept" and "ties" in again.message, again.message
    text = _metrics(retrainer)
    assert (
        'pue_model_swaps_total{outcome="swapped"} 1.0' in text and 'pue_model_swaps_total{outcome="kept"} 1.0' in text
    )
    # a champion fitted up to an hour ago has too few unseen rows to be judged: kept, and nothing is fitted
    retrainer.champion_last_row_s = _now(table) - 3600.0
    fit = _serving(train, good)
    retrainer._fit_table = fit
    early = asyncio.run(retrainer.run_once())
    assert not early.ok and "the current model never saw" in early.message and not fit.seen
    assert controller.recommender is not None and controller.recommender.model is good


def test_the_real_fit_ties_with_the_same_model_and_keeps_it(table: Table, good: CoolingModel) -> None:
    # fitted on the same rows with the same seed, the challenger equals the champion: a tie keeps the champion
    controller = Controller(good)
    retrainer = TableRetrainer(table, controller, 15, clock=lambda: _now(table), holdout_days=HOLDOUT_DAYS)
    outcome = asyncio.run(retrainer.run_once())
    assert outcome.swap == "kept" and "ties" in outcome.message, outcome.message
    assert outcome.model_version == good.version
    assert controller.recommender is not None and controller.recommender.model is good


def test_no_model_yet_takes_the_retrained_one(table: Table, train: Table, good: CoolingModel) -> None:
    controller = Controller(None)
    retrainer = TableRetrainer(
        table, controller, 15, clock=lambda: _now(table), holdout_days=HOLDOUT_DAYS, fit=_serving(train, good)
    )
    outcome = asyncio.run(retrainer.run_once())
    assert outcome.swap == "swapped" and outcome.champion is None and outcome.challenger is not None
    assert controller.recommender is not None and controller.recommender.model is good
