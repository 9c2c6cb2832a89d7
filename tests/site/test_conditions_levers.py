"""``site_conditions`` with the optional levers and the plausibility rule: a setpoint read outside the range its
device's profile accepts (an uninitialised controller reads 0) is not taken as the value in force."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.site import load_config
from agent.control.lever_points import levers_in_force, setpoint_ranges
from agent.devices.readings import DeviceSnapshot, Reading
from agent.site.conditions import site_conditions
from agent.site.poller import AgentState

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_000_000.0
PLANT = [("chw_supply_setpoint_c", 8.0), ("economizer_enabled", 0.0)]
LEVERS = [("condenser_water_setpoint_c", 24.0), ("chw_pump_dp_setpoint_pa", 90_000.0), ("chillers_running", 2.0)]


@pytest.fixture(scope="module")
def site():  # type: ignore[no-untyped-def]
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    return cfg, setpoint_ranges(cfg, profiles)


def _state(readings: dict[str, list[tuple[str, float]]]) -> AgentState:
    state = AgentState()
    for name, values in readings.items():
        state.snapshots[name] = DeviceSnapshot(name, NOW - 1.0, 0.01, True, tuple(Reading(q, v) for q, v in values))
        state.last_success_s[name] = NOW - 1.0
    return state


def _readings(plant: list[tuple[str, float]], crah_c: float = 18.0) -> dict[str, list[tuple[str, float]]]:
    out = {f"crah-{i}": [("supply_air_setpoint_c", crah_c)] for i in range(1, 9)}
    out["chiller-plant"] = plant
    out["outdoor"] = [("outdoor_temp_c", 12.0), ("relative_humidity_ratio", 0.6)]
    out["pdu-row-a"] = [("rack_inlet_temp_c", 23.0)]
    return out


def test_levers_are_read_and_logged_beside_the_setpoints(site) -> None:  # type: ignore[no-untyped-def]
    cfg, ranges = site
    cond = site_conditions(_state(_readings(PLANT + LEVERS)), cfg, NOW, ranges)
    assert dict(cond.levers) == dict(LEVERS)
    assert cond.missing() == [] and cond.implausible == ()
    history = cond.history_columns()
    assert history["condenser_water_setpoint_c"] == 24.0 and history["chillers_running"] == 2.0
    assert levers_in_force(cond.levers, ("chw_pump_dp_setpoint_pa", "condenser_water_setpoint_c")) == (90_000.0, 24.0)
    assert levers_in_force(cond.levers, ("condenser_water_setpoint_c", "towers_running")) == ()  # one not read


def test_a_lever_read_outside_what_its_device_accepts_is_not_in_force(site) -> None:  # type: ignore[no-untyped-def]
    cfg, ranges = site
    zero = [("condenser_water_setpoint_c", 0.0), *LEVERS[1:]]  # the plant's controller has not initialised it
    cond = site_conditions(_state(_readings(PLANT + zero)), cfg, NOW, ranges)
    assert "condenser_water_setpoint_c" not in cond.levers and cond.levers["chw_pump_dp_setpoint_pa"] == 90_000.0
    assert cond.implausible and cond.implausible[0][0] == "condenser_water_setpoint_c"
    assert cond.missing() == []  # the base setpoints are fine: the recommender holds for want of the lever
    assert levers_in_force(cond.levers, ("condenser_water_setpoint_c", "chw_pump_dp_setpoint_pa")) == ()
    # without the ranges (the history writer), the 0 would be taken
    assert site_conditions(_state(_readings(PLANT + zero)), cfg, NOW).levers["condenser_water_setpoint_c"] == 0.0


def test_a_base_setpoint_read_as_0_at_device_start_makes_the_data_incomplete(site) -> None:  # type: ignore[no-untyped-def]
    cfg, ranges = site
    cond = site_conditions(
        _state(_readings([("chw_supply_setpoint_c", 0.0), ("economizer_enabled", 0.0)])), cfg, NOW, ranges
    )
    assert cond.chw_supply_setpoint_c is None  # not 0, and not an average with 0
    (missing,) = cond.missing()
    assert "chiller-plant chw_supply_setpoint_c=0 outside 5-18" in missing and "uninitialised" in missing
    # one CRAH of eight at 0: the supply-air setpoint is unknown, not the mean of the seven others
    readings = _readings(PLANT)
    readings["crah-3"] = [("supply_air_setpoint_c", 0.0)]
    cond = site_conditions(_state(readings), cfg, NOW, ranges)
    assert cond.supply_air_setpoint_c is None and "crah-3 supply_air_setpoint_c=0" in cond.missing()[0]
    # the economizer's 0 is a value in force (disabled), within 0-1
    assert site_conditions(_state(_readings(PLANT)), cfg, NOW, ranges).economizer_enabled is False
