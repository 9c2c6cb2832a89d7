"""The controller writes a recommendation's levers through the guarded write as it writes the base setpoints: only
the levers the recommender chooses, within the profile's and the configured bounds, read back, reverted to the last
known-good value; a site without levers writes the three base setpoints only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.config.levers import LeverConfig
from agent.config.site import DeviceConfig, RecommenderConfig, load_config
from agent.control.actuator import SetpointActuator
from agent.control.controller import CoolingController
from agent.control.engine import Recommendation, Setpoints
from agent.devices.profiles import ProfileObject
from models.levers import LeverSpec

ROOT = Path(__file__).resolve().parents[2]
LEVERS = (
    LeverConfig(name="condenser_water_setpoint_c", min=20, max=28, step=1, max_step=2),
    LeverConfig(name="chw_pump_dp_setpoint_pa", min=60000, max=100000, step=10000, max_step=20000),
)


class Plant:
    """A fake device seam holding each (device, quantity) setpoint; a write sets it, a read returns it."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], float] = {}
        self.writes: list[tuple[str, str, float]] = []

    async def read_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> float | None:
        return self.values.get((device.name, obj.quantity))

    async def write_setpoint(self, device: DeviceConfig, obj: ProfileObject, raw: int) -> None:
        value = obj.decode("integer", raw)
        self.values[(device.name, obj.quantity)] = value
        self.writes.append((device.name, obj.quantity, value))


class Chooser:
    """The recommender seam: the levers it chooses, and the changes applied to it."""

    def __init__(self, levers: tuple[LeverConfig, ...]) -> None:
        self.levers = tuple(LeverSpec(lv.name, lv.min, lv.max, lv.step, lv.max_step) for lv in levers)
        self.applied_setpoints: list[Setpoints] = []

    def applied(self, now_s: float, setpoints: Setpoints) -> None:
        self.applied_setpoints.append(setpoints)


def _controller(levers: tuple[LeverConfig, ...]) -> tuple[CoolingController, Plant, Chooser]:
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    rcfg = RecommenderConfig(mode="auto", levers=list(levers))
    cfg = cfg.model_copy(update={"recommender": rcfg})
    plant = Plant()
    for dev in cfg.devices:
        plant.values[(dev.name, "supply_air_setpoint_c")] = 18.0
    plant.values.update(
        {
            ("chiller-plant", "chw_supply_setpoint_c"): 7.0,
            ("chiller-plant", "economizer_enabled"): 0.0,
            ("chiller-plant", "condenser_water_setpoint_c"): 24.0,
            ("chiller-plant", "chw_pump_dp_setpoint_pa"): 100000.0,
        }
    )
    actuator = SetpointActuator(cfg, profiles, plant, log_path=None)
    chooser = Chooser(levers)
    return CoolingController(cfg, rcfg, chooser, actuator, clock=lambda: 1000.0), plant, chooser  # type: ignore[arg-type]


def _rec(target: Setpoints, current: Setpoints) -> Recommendation:
    return Recommendation(1000.0, target, current, 1.3e6, 1.29e6, 1.3, 1.29, 24.0, 10e3, 0.9, "m", None)


def test_levers_are_written_within_bounds_read_back_and_reverted() -> None:
    controller, plant, chooser = _controller(LEVERS)
    now = Setpoints(18.0, 7.0, False, (24.0, 100000.0))
    records = asyncio.run(controller._apply(_rec(Setpoints(18.0, 8.0, False, (22.0, 90000.0)), now), None, None))
    assert plant.writes == [
        ("chiller-plant", "chw_supply_setpoint_c", 8.0),
        ("chiller-plant", "condenser_water_setpoint_c", 22.0),
        ("chiller-plant", "chw_pump_dp_setpoint_pa", 90000.0),
    ]
    assert all(r.result == "ok" and r.after == r.requested for r in records)
    assert chooser.applied_setpoints == [Setpoints(18.0, 8.0, False, (22.0, 90000.0))]
    # an inlet breach reverts every setpoint changed, levers included, to the values before
    plant.writes.clear()
    asyncio.run(controller._revert("rack inlet above the limit"))
    assert sorted(plant.writes) == [
        ("chiller-plant", "chw_pump_dp_setpoint_pa", 100000.0),
        ("chiller-plant", "chw_supply_setpoint_c", 7.0),
        ("chiller-plant", "condenser_water_setpoint_c", 24.0),
    ]


def test_a_lever_outside_the_configured_bounds_is_blocked_and_never_sent() -> None:
    controller, plant, chooser = _controller(LEVERS)
    now = Setpoints(18.0, 7.0, False, (24.0, 100000.0))
    records = asyncio.run(controller._apply(_rec(Setpoints(18.0, 7.0, False, (30.0, 100000.0)), now), None, None))
    (blocked,) = records
    assert blocked.result == "blocked" and "outside the configured bounds [20.0, 28.0]" in (blocked.error or "")
    assert plant.writes == [] and chooser.applied_setpoints == []


def test_without_levers_only_the_base_setpoints_are_written() -> None:
    controller, plant, _ = _controller(())
    # a recommendation carrying lever values a site without levers does not name: nothing lever-related is written
    records = asyncio.run(
        controller._apply(_rec(Setpoints(18.0, 8.0, True, (22.0,)), Setpoints(18.0, 7.0, False, (24.0,))), None, None)
    )
    assert {r.quantity for r in records} == {"chw_supply_setpoint_c", "economizer_enabled"}
    assert plant.values[("chiller-plant", "condenser_water_setpoint_c")] == 24.0
    assert controller.actuator.limits.keys() == {"supply_air_setpoint_c", "chw_supply_setpoint_c", "economizer_enabled"}


def test_exploration_steps_keep_the_levers_where_they_are() -> None:
    from agent.control.engine import Conditions

    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    rcfg = RecommenderConfig(mode="auto", levers=list(LEVERS), exploration={"enabled": True, "mode": "auto"})
    cfg = cfg.model_copy(update={"recommender": rcfg})
    actuator = SetpointActuator(cfg, profiles, Plant(), log_path=None)
    controller = CoolingController(cfg, rcfg, Chooser(LEVERS), actuator, clock=lambda: 1000.0)  # type: ignore[arg-type]
    assert controller.exploration is not None
    current = Setpoints(18.0, 7.0, False, (24.0, 100000.0))
    inputs = {"conditions": Conditions(800e3, 10.0, 7.0), "current": current, "max_inlet_c": 22.0}
    steps = [controller.exploration.step(1000.0 + 900.0 * k, inputs, True, None) for k in range(4)]  # type: ignore[arg-type]
    moved = [s for s in steps if s is not None and s.changed]
    assert moved, [s.held_back_reason if s else None for s in steps]
    for step in moved:
        assert step.setpoints.levers == current.levers and step.reason is not None
        assert step.reason.startswith("exploration")
