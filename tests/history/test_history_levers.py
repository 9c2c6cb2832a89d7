"""The optional levers in the history (agent/history/levers.py): kept as terms, exported as columns named as the
levers, imported back, and carried into the training CSV retraining reads when enough intervals know them."""

from __future__ import annotations

import csv
from pathlib import Path

from agent.control.history_io import read_site_history
from agent.control.retrain import training_csv_from_store
from agent.control.training import MIN_ROWS, levers_of
from agent.history.export import export_history
from agent.history.importer import import_history
from agent.history.levers import lever_terms
from agent.history.records import SiteInterval
from agent.history.store import SqliteHistoryStore

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
STEP_S = 900.0
CONDITIONS = {
    "outdoor_dry_bulb_c": 10.0,
    "outdoor_wet_bulb_c": 7.0,
    "outdoor_rh_percent": 70.0,
    "supply_air_setpoint_c": 18.0,
    "chw_supply_setpoint_c": 7.0,
    "economizer_enabled": 0.0,
}


def _intervals(n: int, with_levers_from: int = 0) -> list[SiteInterval]:
    out = []
    for i in range(n):
        levers = {"condenser_water_setpoint_c": 20.0 + 2 * (i % 4), "chillers_running": 2.0 + i % 2}
        out.append(
            SiteInterval(
                T0 + i * STEP_S,
                STEP_S,
                STEP_S,
                1.3e6 * STEP_S,
                1.0e6 * STEP_S,
                STEP_S,
                0.25e6 * STEP_S,
                "counter",
                1,
                conditions={**CONDITIONS, "supply_air_setpoint_c": 18.0 + i % 3},
                max_inlet_c=24.0,
                terms=lever_terms(levers, STEP_S) if i >= with_levers_from else {},
            )
        )
    return out


def test_the_history_knows_every_lever_the_config_and_the_model_know() -> None:
    from typing import get_args

    from agent.config.levers import LeverName
    from agent.history.levers import LEVER_COLUMNS
    from models.levers import LEVER_NAMES

    assert LEVER_COLUMNS == get_args(LeverName) == tuple(LEVER_NAMES)


def test_levers_are_exported_imported_and_learned_from(tmp_path: Path) -> None:
    n = MIN_ROWS + 20
    with SqliteHistoryStore(tmp_path / "h.sqlite") as store:
        store.import_site_intervals(_intervals(n))
        out = tmp_path / "export.csv"
        export_history(store, T0, T0 + n * STEP_S, 900, out, "csv")
        training = tmp_path / "train.csv"
        assert training_csv_from_store(store, T0, T0 + n * STEP_S, training) == n
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert rows[0]["condenser_water_setpoint_c"] == "20" and rows[1]["chillers_running"] == "3"
    assert "towers_running" not in rows[0]  # only the levers the period logged
    # hourly: the time-weighted mean of the four quarters
    with SqliteHistoryStore(tmp_path / "h.sqlite", readonly=True) as store:
        hourly = tmp_path / "hourly.csv"
        export_history(store, T0, T0 + n * STEP_S, 3600, hourly, "csv")
    first_hour = next(csv.DictReader(hourly.read_text().splitlines()))
    assert float(first_hour["condenser_water_setpoint_c"]) == 23.0 and float(first_hour["chillers_running"]) == 2.5
    # import -> export gives the same file
    with SqliteHistoryStore(tmp_path / "again.sqlite") as store:
        import_history(store, out)
        again = tmp_path / "again.csv"
        export_history(store, T0, T0 + n * STEP_S, 900, again, "csv")
    assert again.read_text() == out.read_text()
    # the training CSV carries the levers, and the fit's reader finds them varied and complete
    table = read_site_history(training)
    assert levers_of(table) == ("condenser_water_setpoint_c", "chillers_running")
    # retraining passes the levers the site lists: a logged lever it does not list is not learned
    with SqliteHistoryStore(tmp_path / "h.sqlite", readonly=True) as store:
        listed = tmp_path / "listed.csv"
        training_csv_from_store(store, T0, T0 + n * STEP_S, listed, levers=("chillers_running", "towers_running"))
    assert levers_of(read_site_history(listed)) == ("chillers_running",)


def test_too_few_intervals_with_levers_leave_them_out_of_training(tmp_path: Path) -> None:
    n = MIN_ROWS + 20
    with SqliteHistoryStore(tmp_path / "h.sqlite") as store:
        store.import_site_intervals(_intervals(n, with_levers_from=n - MIN_ROWS // 2))
        training = tmp_path / "train.csv"
        assert training_csv_from_store(store, T0, T0 + n * STEP_S, training) == n  # every row, without the levers
    assert levers_of(read_site_history(training)) == ()
    header = training.read_text().splitlines()[0]
    assert "condenser_water_setpoint_c" not in header
