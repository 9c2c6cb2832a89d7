"""``site_conditions``: the one rule for the cooling model's conditions (unit tests on a built state)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.site import DeviceConfig, load_config
from agent.devices.readings import DeviceSnapshot, Reading
from agent.site.conditions import site_conditions
from agent.site.poller import AgentState
from models.psychro import wet_bulb_c

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_000_000.0


def _state(cfg, readings: dict[str, list[tuple[str, float]]], stale: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    state = AgentState()
    for name, values in readings.items():
        when = NOW - 3600.0 if name in stale else NOW - 1.0
        state.snapshots[name] = DeviceSnapshot(name, when, 0.01, True, tuple(Reading(q, v) for q, v in values))
        state.last_success_s[name] = when
    return state


@pytest.fixture(scope="module")
def cfg():  # type: ignore[no-untyped-def]
    cfg, _ = load_config(ROOT / "configs" / "twin-site.yaml")
    # an indoor humidity/temperature box beside the outdoor sensor, with the same role: its humidity is
    # not the weather (the old controller averaged every environment sensor's humidity into the wet bulb)
    indoor = DeviceConfig(
        name="hall-env",
        address="127.0.0.1",
        port=16299,
        credentials="ro-v2c",
        profile="gude-esb7213",
        role="environment_sensor",
        zone="hall-1",
    )
    second_plant = cfg.device("chiller-plant").model_copy(update={"name": "chiller-plant-2", "port": 16232})
    return cfg.model_copy(update={"devices": (*cfg.devices, indoor, second_plant)})


def test_outdoor_humidity_comes_only_from_devices_reading_outdoor_air(cfg) -> None:  # type: ignore[no-untyped-def]
    state = _state(
        cfg,
        {
            "outdoor": [("outdoor_temp_c", 20.0), ("relative_humidity_ratio", 0.50), ("air_pressure_pa", 88_000.0)],
            "hall-env": [("ambient_temp_c", 24.0), ("relative_humidity_ratio", 0.90)],
        },
    )
    cond = site_conditions(state, cfg, NOW)
    assert cond.outdoor_dry_bulb_c == 20.0 and cond.outdoor_rh_ratio == 0.50
    assert cond.outdoor_wet_bulb_c == pytest.approx(float(wet_bulb_c(20.0, 50.0, 88_000.0)))
    assert cond.history_columns()["outdoor_rh_percent"] == pytest.approx(50.0)


def test_setpoints_average_over_every_fresh_plant_and_stale_ones_are_left_out(cfg) -> None:  # type: ignore[no-untyped-def]
    state = _state(
        cfg,
        {
            "chiller-plant": [("chw_supply_setpoint_c", 8.0), ("economizer_enabled", 1.0)],
            "chiller-plant-2": [("chw_supply_setpoint_c", 10.0), ("economizer_enabled", 1.0)],
            "crah-1": [("supply_air_setpoint_c", 18.0)],
            "crah-2": [("supply_air_setpoint_c", 20.0)],
            "crah-3": [("supply_air_setpoint_c", 30.0)],
        },
        stale=("crah-3",),
    )
    cond = site_conditions(state, cfg, NOW)
    assert cond.chw_supply_setpoint_c == 9.0  # not the first plant's 8 C
    assert cond.supply_air_setpoint_c == 19.0 and cond.economizer_enabled is True


def test_inlets_are_complete_only_when_every_remapped_reporter_is_fresh(cfg) -> None:  # type: ignore[no-untyped-def]
    pdus = [d.name for d in cfg.devices if any(r.to == "rack_inlet_temp_c" for r in d.remap)]
    assert len(pdus) >= 2
    fresh = {name: [("rack_inlet_temp_c", 22.0 + i)] for i, name in enumerate(pdus)}
    cond = site_conditions(_state(cfg, fresh), cfg, NOW)
    assert cond.inlets_complete and cond.max_inlet_c == 22.0 + len(pdus) - 1
    # one PDU that has never answered: it is remapped to rack inlets, so the set is incomplete
    partial = {k: v for k, v in fresh.items() if k != pdus[0]}
    cond = site_conditions(_state(cfg, partial), cfg, NOW)
    assert not cond.inlets_complete and "rack inlets" not in cond.missing()
