"""Energy balance, per-step API, whole-year plausibility, CSV and CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from twin import cli, cooling
from twin.controllers import baseline_schedule, explore_schedule
from twin.design import ControlBounds, Controls, SiteDesign
from twin.history_csv import SITE_HISTORY_COLUMNS, write_site_history
from twin.simulate import SimulationResult, simulate, summarize
from twin.site import SiteConditions, SitePlant
from twin.weather import load_site_weather


@pytest.fixture(scope="module")
def guiyang_years() -> dict[str, SimulationResult]:
    weather = load_site_weather("guiyang")
    return {c: simulate(weather, days=365, step_s=3600.0, controller=c) for c in ("baseline", "oracle")}


def _closes(result: SimulationResult) -> None:
    parts = result.it_power_w + result.ups_loss_w + result.pdu_loss_w + result.cooling_power_w + result.lighting_other_w
    np.testing.assert_allclose(result.facility_power_w, parts, rtol=1e-3)
    cooling = result.crah_fan_power_w + result.chiller_power_w + result.tower_fan_power_w + result.pump_power_w
    np.testing.assert_allclose(result.cooling_power_w, cooling, rtol=1e-3)


def test_energy_balance_closes_every_step(guiyang_years: dict[str, SimulationResult]) -> None:
    for result in guiyang_years.values():
        _closes(result)


def test_guiyang_baseline_and_oracle_years(guiyang_years: dict[str, SimulationResult]) -> None:
    baseline = summarize(guiyang_years["baseline"])
    oracle = summarize(guiyang_years["oracle"])
    assert 1.4 <= baseline.pue <= 1.6
    assert oracle.pue <= baseline.pue - 0.1
    assert oracle.minutes_inlet_above_limit == 0.0
    assert baseline.minutes_inlet_above_limit == 0.0
    assert oracle.full_free_cooling_hours > 1000.0
    assert baseline.full_free_cooling_hours == baseline.partial_free_cooling_hours == 0.0


def test_step_closes_balance_and_exposes_devices() -> None:
    design = SiteDesign()
    plant = SitePlant(design)
    conditions = SiteConditions(12.0, 9.0, 70.0, 88000.0, tuple([0.5] * design.n_racks))
    for controls in (Controls(), Controls(22.0, 16.0, True, 0.3), Controls(30.0, 2.0, True, 0.0)):
        result = plant.step(conditions, controls, 60.0)
        total = (
            result.it_power_w + result.ups_loss_w + result.pdu_loss_w + result.cooling_power_w + result.lighting_other_w
        )
        assert result.facility_power_w == pytest.approx(total, rel=1e-3)
        assert len(result.rack_inlet_c) == len(result.rack_power_w) == design.n_racks
        assert len(result.crah_fan_speed) == design.n_crah
        assert len(result.ups_output_power_w) == design.n_ups
        assert sum(result.rack_power_w) == pytest.approx(result.it_power_w)
        bounds = ControlBounds()
        assert bounds.supply_air_min_c <= result.controls.supply_air_setpoint_c <= bounds.supply_air_max_c


def test_pv_reuse_and_water_leave_the_power_balance_alone() -> None:
    design = SiteDesign()
    util = tuple([0.5] * design.n_racks)
    dark = SitePlant(design).step(SiteConditions(20.0, 15.0, 60.0, 88000.0, util), Controls(), 60.0)
    sunny = SitePlant(design).step(SiteConditions(20.0, 15.0, 60.0, 88000.0, util, 900.0), Controls(), 60.0)
    cold = SitePlant(design).step(SiteConditions(3.0, 1.0, 80.0, 88000.0, util, 900.0), Controls(), 60.0)
    assert dark.pv_power_w == 0.0 and dark.grid_import_power_w == dark.facility_power_w
    assert sunny.facility_power_w == dark.facility_power_w  # PV moves the utility meter, not the facility
    assert sunny.cooling_power_w == dark.cooling_power_w and sunny.it_power_w == dark.it_power_w
    assert 0.0 < sunny.pv_power_w < design.pv_rated_power_w
    assert sunny.grid_import_power_w + sunny.pv_power_w == pytest.approx(sunny.facility_power_w)
    assert cold.pv_power_w > sunny.pv_power_w  # cooler cells
    assert dark.reused_heat_power_w == 0.0  # 20 C outdoors: above the heat customer's balance point
    assert cold.reused_heat_power_w == pytest.approx(design.heat_reuse_ua_w_per_k * (15.0 - 3.0))
    rejected_w = dark.facility_power_w - dark.tower_fan_power_w - dark.pump_power_w  # all the rest is heat
    expected = cooling.tower_makeup_water_m3_per_s(rejected_w, design.tower_cycles_of_concentration)
    assert dark.water_flow_m3_per_s == pytest.approx(float(expected), rel=1e-9)
    assert cold.water_flow_m3_per_s < dark.water_flow_m3_per_s  # reused heat is not evaporated


def test_pv_is_capped_at_the_facility_consumption() -> None:
    design = SiteDesign(pv_rated_power_w=5.0e6)
    r = SitePlant(design).step(
        SiteConditions(20.0, 15.0, 60.0, 88000.0, tuple([0.1] * design.n_racks), 1000.0), Controls(), 60.0
    )
    assert r.pv_power_w == r.facility_power_w and r.grid_import_power_w == 0.0


def test_guiyang_year_pv_reuse_and_water(guiyang_years: dict[str, SimulationResult]) -> None:
    baseline, oracle = (summarize(guiyang_years[c]) for c in ("baseline", "oracle"))
    design = SiteDesign()
    assert baseline.pv_energy_kwh == oracle.pv_energy_kwh  # the sun ignores the setpoints
    assert 650.0 < baseline.pv_energy_kwh / (design.pv_rated_power_w / 1e3) < 1000.0  # kWh/kWp
    assert 0.005 < baseline.ref < 0.03
    assert 0.01 < baseline.erf < 0.05 and baseline.ere < baseline.pue
    assert 1.5 < oracle.wue_l_per_kwh < baseline.wue_l_per_kwh < 3.0  # L/kWh IT, evaporative towers
    result = guiyang_years["baseline"]
    assert np.all(result.pv_power_w <= result.facility_power_w)
    assert np.all(result.reused_heat_power_w[result.outdoor_dry_bulb_c >= design.heat_reuse_base_c] == 0.0)


def test_economizer_dwell_in_live_steps() -> None:
    design = SiteDesign()
    plant = SitePlant(design)
    cold = SiteConditions(5.0, 2.0, 70.0, 88000.0, tuple([0.5] * design.n_racks))
    controls = Controls(20.0, 12.0, True, 0.3)
    assert plant.step(cold, controls, 60.0).free_cooling_fraction == 1.0
    hot = SiteConditions(30.0, 24.0, 70.0, 88000.0, cold.rack_utilisation)
    assert plant.step(hot, controls, 60.0).economizer_active  # held by the 20-minute dwell
    for _ in range(20):
        last = plant.step(hot, controls, 60.0)
    assert not last.economizer_active


def test_exploration_keeps_inlets_safe() -> None:
    design, bounds = SiteDesign(), ControlBounds()
    weather = load_site_weather("guiyang")
    result = simulate(weather, days=7, step_s=900.0, controller="oracle", explore_c=3.0, seed=7)
    assert summarize(result).minutes_inlet_above_limit == 0.0
    explored = explore_schedule(baseline_schedule(200), 5.0, 900.0, design, bounds, seed=1)
    assert explored.supply_air_setpoint_c.max() <= design.max_safe_supply_air_c
    assert np.ptp(explored.supply_air_setpoint_c) > 1.0


def test_history_csv_columns_exact(tmp_path: Path) -> None:
    result = simulate(load_site_weather("guiyang"), days=1, step_s=900.0)
    out = tmp_path / "h.csv"
    assert write_site_history(result, out) == 96
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == SITE_HISTORY_COLUMNS
    assert rows[0][:13] == [
        "timestamp",
        "interval_s",
        "facility_power_w",
        "it_power_w",
        "cooling_power_w",
        "outdoor_dry_bulb_c",
        "outdoor_wet_bulb_c",
        "outdoor_rh_percent",
        "supply_air_setpoint_c",
        "chw_supply_setpoint_c",
        "economizer_enabled",
        "max_inlet_c",
        "pue",
    ]
    assert rows[1][0] == "2026-01-01T00:00:00Z"
    assert rows[2][0] == "2026-01-01T00:15:00Z"
    assert rows[1][1] == "900"
    assert rows[1][10] in {"0", "1"}


def test_cli_runs_and_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.csv"
    status = cli.main(
        ["twin", "simulate", "--weather", "chengdu", "--days", "2", "--step-min", "60", "--out", str(out)]
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "annual PUE" in text and "free cooling" in text and "above 27 C" in text
    assert out.read_text().startswith("timestamp,")


@pytest.mark.parametrize(
    "args",
    [
        ["--weather", "/nonexistent/x.epw"],
        ["--days", "0"],
        ["--days", "abc"],
        ["--control", "pid"],
        ["--step-min", "-5"],
    ],
)
def test_cli_bad_arguments_exit_2(args: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["twin", "simulate", *args, "--out", str(tmp_path / "x.csv")])
    assert exc.value.code == 2


def test_named_designs_differ_only_in_the_ups_and_stay_in_the_typical_range() -> None:
    from dataclasses import asdict

    from twin.design import DESIGNS
    from twin.power_chain import ups_efficiency

    legacy, modern = DESIGNS["legacy"], DESIGNS["modern-ups"]
    assert legacy == SiteDesign()
    assert {k for k, v in asdict(modern).items() if asdict(legacy)[k] != v} == {"ups_no_load_loss_fraction"}
    out = 0.35 * modern.ups_rated_power_w  # each side of 2N at about 35 % load
    eff = {
        name: float(
            ups_efficiency(
                out,
                d.ups_rated_power_w,
                no_load_loss_fraction=d.ups_no_load_loss_fraction,
                proportional_loss_fraction=d.ups_proportional_loss_fraction,
                square_loss_fraction=d.ups_square_loss_fraction,
            )
        )
        for name, d in DESIGNS.items()
    }
    assert 0.93 < eff["legacy"] < 0.95 and 0.96 < eff["modern-ups"] < 0.97  # standards.md: 0.90-0.97
