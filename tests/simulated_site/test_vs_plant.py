"""The variable-speed plant (design modern-vs): affinity laws for pumps and tower fans, staging, and the
constant-speed designs unchanged by the new levers."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from twin import cooling
from twin.balance import water_side
from twin.design import DESIGNS, ControlBounds, Controls, SiteDesign
from twin.vs_plant import staged_chillers, tower_state, variable_speed_pump_power_w

VS = DESIGNS["modern-vs"]


def test_pump_power_falls_with_the_cube_of_speed_when_the_dp_setpoint_follows_the_remote_coil() -> None:
    speed = np.array([0.4, 0.6, 0.8, 1.0])
    design_flow = 30.0
    power = variable_speed_pump_power_w(
        speed * design_flow, 1, design_flow, 0.0, 60e3, 150e3, 0.7, part_load_efficiency_loss=0.0
    )
    np.testing.assert_allclose(power / power[-1], speed**3, rtol=1e-12)
    # with part-load losses and a fixed DP setpoint it still falls with speed, more slowly than the cube
    fixed = variable_speed_pump_power_w(speed * design_flow, 1, design_flow, 100e3, 60e3, 150e3, 0.7)
    assert np.all(np.diff(fixed) > 0)
    assert np.all(fixed[:-1] / fixed[-1] > speed[:-1] ** 3)
    # a lower DP setpoint never costs more; below the remote coil's need it saves nothing more
    low, lower = (
        variable_speed_pump_power_w(0.8 * design_flow, 1, design_flow, dp, 60e3, 150e3, 0.7) for dp in (35e3, 30e3)
    )
    high = variable_speed_pump_power_w(0.8 * design_flow, 1, design_flow, 100e3, 60e3, 150e3, 0.7)
    assert low == pytest.approx(lower) and low < high


def test_tower_fans_hold_the_condenser_setpoint_and_share_heat_by_the_cube_law() -> None:
    heat = 1.2e6
    speed, leaving = tower_state(heat, 15.0, [20.0, 22.0, 24.0], 3, 633e3, 4.0, 0.2)
    assert np.all(np.diff(speed) < 0)  # a warmer setpoint needs less airflow
    np.testing.assert_allclose(leaving[speed > 0.2], [20.0, 22.0, 24.0][: int(np.sum(speed > 0.2))], atol=1e-9)
    fan = {n: n * cooling.fan_power_w(tower_state(heat, 15.0, 21.0, n, 633e3, 4.0, 0.2)[0], 7.3e3) for n in (2, 3)}
    assert fan[3] < fan[2]  # the same heat over more towers: each slower, less power in all
    full, cold = tower_state(heat, 15.0, 15.5, 3, 633e3, 4.0, 0.2)  # unreachable setpoint: full speed
    assert full == 1.0 and cold > 15.5


def test_water_side_tower_fan_power_falls_as_the_condenser_setpoint_rises_and_chillers_pay_for_it() -> None:
    load = np.full(3, 1.0e6)
    out = water_side(VS, load, 10.0, 16.0, False, condenser_water_setpoint_c=np.array([19.0, 21.0, 23.0]))
    assert np.all(np.diff(out.tower_fan_power_w) < 0)
    assert np.all(np.diff(out.chiller_power_w) > 0)


def test_chiller_staging_never_runs_fewer_than_the_load_needs() -> None:
    n = staged_chillers([0.0, 4e5, 9e5, 1.2e6], 5.5e5, 3, [1, 1, 1, 1])
    np.testing.assert_array_equal(n, [0, 1, 2, 3])
    load = np.full(3, 9.0e5)
    out = water_side(VS, load, 10.0, 14.0, False, chillers_running=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(out.n_chillers_running, [2, 2, 3])
    assert out.chiller_plr[2] < out.chiller_plr[1]
    assert np.all(out.unmet_load_w == 0.0)


def test_constant_speed_designs_ignore_the_levers_and_the_defaults_are_unchanged() -> None:
    load = np.linspace(5e5, 1.1e6, 7)
    for name in ("legacy", "modern-ups"):
        design = DESIGNS[name]
        plain = water_side(design, load, 9.0, 16.0, False)
        levered = water_side(
            design,
            load,
            9.0,
            16.0,
            False,
            condenser_water_setpoint_c=25.0,
            chw_pump_dp_setpoint_pa=30e3,
            chillers_running=3,
            towers_running=1,
        )
        for field, value in asdict(plain).items():
            np.testing.assert_array_equal(value, asdict(levered)[field], err_msg=field)
    assert Controls() == Controls(18.0, 7.0, False, 0.6) and ControlBounds().clamp(Controls()) == Controls()
    assert not SiteDesign().variable_speed_plant
    changed = {k for k, v in asdict(VS).items() if asdict(DESIGNS["modern-ups"])[k] != v}
    assert changed == {
        "variable_speed_plant",
        "n_chillers",
        "chiller_capacity_w",
        "n_towers",
        "tower_design_heat_w",
        "tower_rated_fan_power_w",
    }
