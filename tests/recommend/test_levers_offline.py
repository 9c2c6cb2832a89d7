"""Offline ``pue-agent recommend`` with a model fitted with a lever: every row gets its base setpoints and the lever,
chosen as the online optimiser chooses them (models.levers.optimise_with_levers), the lever inside the data's support;
the prediction now uses the levers in force from the conditions file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from agent.app.cli import main
from agent.control.artefact import save_model
from models.cooling import CoolingModel, fit_cooling_model
from models.levers import optimise_with_levers
from models.optimiser import SetpointBounds
from tests.recommend.test_levers import CW_SPEC, FAST, SEEN_CW_C, _history

HEADER = "timestamp,it_power_w,outdoor_dry_bulb_c,outdoor_wet_bulb_c,supply_air_setpoint_c,chw_supply_setpoint_c"


@pytest.fixture(scope="module")
def model() -> CoolingModel:
    inputs, cooling, facility, inlet = _history()
    return fit_cooling_model(
        inputs, cooling, facility, inlet, lever_columns=(CW_SPEC.name,), lever_steps=(CW_SPEC.step,),
        it_fan_curve=False, regressor_params=FAST,
    )  # fmt: skip


def _recommend(model: CoolingModel, tmp_path: Path, lines: list[str], header: str) -> list[dict[str, str]]:
    save_model(model, tmp_path / "m", {"start": "", "end": "", "rows": 0}, source="test")
    conditions, out = tmp_path / "c.csv", tmp_path / "r.csv"
    conditions.write_text("\n".join([header, *lines]) + "\n")
    assert main(["recommend", "--model", str(tmp_path / "m"), "--conditions", str(conditions), "--out", str(out)]) == 0
    return list(csv.DictReader(out.read_text().splitlines()))


def test_offline_recommend_chooses_the_lever_with_the_setpoints(model: CoolingModel, tmp_path: Path) -> None:
    header = HEADER + ",economizer_enabled,condenser_water_setpoint_c"
    lines = [
        "2026-03-01T00:00:00Z,800000,12,8,18,9,0,26",
        "2026-03-01T01:00:00Z,810000,20,16,19,10,0,20",
    ]
    rows = _recommend(model, tmp_path, lines, header)
    assert len(rows) == 2
    for line, row in zip(lines, rows, strict=True):
        _, it, dry, wet, supply, chw, eco, cw = line.split(",")
        assert row["held_back_reason"] == ""
        expected = optimise_with_levers(
            model, float(it), float(dry), float(wet), SetpointBounds(), model.lever_support.combos, (float(cw),)
        )
        assert expected is not None
        assert float(row["condenser_water_setpoint_c"]) == expected.levers[0]
        assert float(row["condenser_water_setpoint_c"]) in SEEN_CW_C
        assert row["supply_air_setpoint_c"] == f"{expected.choice.supply_air_setpoint_c:.2f}"
        now = model.predict(np.array([[float(v) for v in (it, dry, wet, supply, chw, eco, cw)]]))
        assert row["predicted_facility_power_now_w"] == f"{now.facility_power_w[0]:.1f}"
    # the synthetic plant's cooling is least at 23 C condenser water: the seen values nearest it win
    assert {float(r["condenser_water_setpoint_c"]) for r in rows} <= {22.0, 24.0}


def test_without_the_levers_in_force_it_still_recommends_but_predicts_no_saving(
    model: CoolingModel, tmp_path: Path
) -> None:
    header = HEADER + ",economizer_enabled"  # setpoints but no lever column: the saving cannot be known
    rows = _recommend(model, tmp_path, ["2026-03-01T00:00:00Z,800000,12,8,18,9,0"], header)
    assert rows[0]["held_back_reason"] == "" and float(rows[0]["condenser_water_setpoint_c"]) in SEEN_CW_C
    assert "predicted_savings_w" not in rows[0]


def test_run_refuses_a_lever_model_for_a_site_that_does_not_list_its_levers(model: CoolingModel) -> None:
    from agent.config.levers import LeverConfig
    from agent.config.recommender import RecommenderConfig
    from agent.control.recommender_setup import recommender_for
    from agent.errors import ConfigError

    with pytest.raises(ConfigError, match=r"fitted with the levers \['condenser_water_setpoint_c'\]"):
        recommender_for(model, RecommenderConfig())
    listed = RecommenderConfig(levers=[LeverConfig(name=CW_SPEC.name, min=21, max=30, step=1, max_step=2)])
    assert [spec.name for spec in recommender_for(model, listed).levers] == [CW_SPEC.name]


def test_every_row_held_back_still_writes_the_file(model: CoolingModel, tmp_path: Path) -> None:
    # far warmer than the training data: no row is searched, the batch lever search gets none
    rows = _recommend(model, tmp_path, ["2026-07-01T12:00:00Z,800000,60,40"], "timestamp,it_power_w,"
                      "outdoor_dry_bulb_c,outdoor_wet_bulb_c")  # fmt: skip
    assert len(rows) == 1 and "outside the training range" in rows[0]["held_back_reason"]
