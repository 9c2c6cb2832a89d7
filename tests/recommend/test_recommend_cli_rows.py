"""``pue-agent recommend`` writes, cell for cell, what the one-row optimiser and ``model.predict`` give per row."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from agent.app.cli import main
from agent.control.artefact import save_model
from models.cooling import CoolingModel
from models.optimiser import SetpointBounds, optimise_setpoints

COLUMNS = (
    "timestamp,it_power_w,outdoor_dry_bulb_c,outdoor_wet_bulb_c,supply_air_setpoint_c,chw_supply_setpoint_c,"
    "economizer_enabled"
)


def _expected_row(model: CoolingModel, cells: list[str]) -> dict[str, str]:
    stamp, *numbers = cells
    it_w, dry_c, wet_c, supply_c, chw_c, eco = (float(x) for x in numbers)
    row = {"timestamp": stamp, "it_power_w": f"{it_w:.1f}", "outdoor_dry_bulb_c": f"{dry_c:.2f}"}
    row["outdoor_wet_bulb_c"] = f"{wet_c:.2f}"
    reason = model.conditions_outside_training([it_w, dry_c, wet_c])
    choice = None if reason else optimise_setpoints(model, it_w, dry_c, wet_c, SetpointBounds())
    if choice is None:
        row["held_back_reason"] = reason or "no setpoints within bounds and data support meet 27 C"
        return row
    now = model.predict(np.array([[it_w, dry_c, wet_c, supply_c, chw_c, eco]]))
    row.update(
        supply_air_setpoint_c=f"{choice.supply_air_setpoint_c:.2f}",
        chw_supply_setpoint_c=f"{choice.chw_supply_setpoint_c:.2f}",
        economizer_enabled=str(int(choice.economizer_enabled)),
        predicted_facility_power_w=f"{choice.facility_power_w:.1f}",
        predicted_max_inlet_c=f"{choice.max_inlet_c:.2f}",
        predicted_pue=f"{choice.pue:.4f}",
        predicted_facility_power_now_w=f"{now.facility_power_w[0]:.1f}",
        predicted_pue_now=f"{now.pue[0]:.4f}",
        predicted_savings_w=f"{now.facility_power_w[0] - choice.facility_power_w:.1f}",
        held_back_reason="",
    )
    return row


def test_cli_rows_equal_the_one_row_path(model: CoolingModel, history_csv: Path, tmp_path: Path) -> None:
    save_model(model, tmp_path / "m", {"start": "", "end": "", "rows": 0}, source="test")
    history = list(csv.DictReader(history_csv.read_text().splitlines()))
    lines = [[r[c] for c in COLUMNS.split(",")] for r in history[:: len(history) // 16]]
    lines.append(["2026-03-01T00:00:00Z", "800000", "45", "30", "18", "7", "0"])  # hotter than training: held back
    lines.append(["2026-03-01T01:00:00Z", "800000", "-20", "-22", "18", "7", "0"])  # colder: clamped, answered
    conditions = tmp_path / "c.csv"
    conditions.write_text("\n".join([COLUMNS] + [",".join(cells) for cells in lines]) + "\n")
    out = tmp_path / "r.csv"
    assert main(["recommend", "--model", str(tmp_path / "m"), "--conditions", str(conditions), "--out", str(out)]) == 0
    written = list(csv.DictReader(out.read_text().splitlines()))
    assert len(written) == len(lines)
    for cells, row in zip(lines, written, strict=True):
        assert {k: v for k, v in row.items() if v != ""} == {
            k: v for k, v in _expected_row(model, cells).items() if v != ""
        }
    assert written[-2]["held_back_reason"].startswith("outdoor_dry_bulb_c 45")
    assert written[-1]["held_back_reason"] == ""
    assert sum(r["held_back_reason"] == "" for r in written) >= 12
