"""The optional levers in `run` end to end: the twin's variable-speed plant (design ``modern-vs``) served over SNMP on
loopback, the agent as `pue-agent run` builds it (config loaded from YAML with ``recommender.levers``, the model
loaded from ``model_dir``, ``auto`` mode) polling it and writing back, one simulated hour per cycle (a clock shared
by the twin and the agent, as bench/closed_loop_wire.py runs it).

- with the levers declared and a model fitted with lever columns, lever writes land on the twin inside the configured
  bounds and are read back; at the first cycle the plant's controller reads 0 for a lever (not yet initialised), and
  the agent holds rather than take 0 as the value in force;
- with the levers removed from the config, nothing lever-related is written and the twin's levers stay as they were.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from agent.app.runtime import Agent
from agent.config.site import load_config
from agent.control.artefact import save_model
from agent.control.recommender_setup import recommender_for
from agent.export.exposition import float_text
from agent.history import HistoryWriter, SqliteHistoryStore
from agent.site.conditions import setpoint_ranges
from models.cooling import fit_cooling_model
from models.levers import LEVER_NAMES
from twin.design import DESIGNS, ControlBounds, Controls
from twin.live import VS_START_LEVERS, TwinLiveSite
from twin.simulate import utilisation_at
from twin.site import SiteConditions, SitePlant
from twin.weather import load_site_weather, weather_at

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import free_port, free_udp_range  # noqa: E402
from plantfakes import EconomizerOnlyPlant  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = TESTS.parent
DESIGN = DESIGNS["modern-vs"]
START_S = datetime(2026, 3, 15, 6, tzinfo=UTC).timestamp()  # the demo's start: mid-March, 14:00 in Guiyang
HOUR_S = 3600.0
LEVERS: list[dict[str, float | str]] = [
    {"name": "condenser_water_setpoint_c", "min": 20.0, "max": 28.0, "step": 2.0, "max_step": 2.0},
    {"name": "chw_pump_dp_setpoint_pa", "min": 60000.0, "max": 100000.0, "step": 10000.0, "max_step": 20000.0},
]


class SimClock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _conditions(times_s: np.ndarray) -> list[SiteConditions]:
    """The twin's conditions at ``times_s`` as :class:`TwinLiveSite` computes them."""
    weather = load_site_weather("guiyang")
    outdoor = weather_at(weather, times_s)
    traces = utilisation_at(times_s, weather.utc_offset_h)
    util = np.clip(traces[:, DESIGN.rack_trace_index] * DESIGN.rack_utilisation_gain, 0.0, 1.0)
    return [
        SiteConditions(
            float(outdoor.dry_bulb_c[i]),
            float(outdoor.wet_bulb_c[i]),
            float(outdoor.rh_percent[i]),
            float(outdoor.pressure_pa[i]),
            tuple(float(u) for u in util[i]),
        )
        for i in range(times_s.size)
    ]


@pytest.fixture(scope="module")
def lever_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model fitted with the two lever columns on eight days of the plant exploring them (3-hour holds)."""
    rng = np.random.default_rng(3)
    plant = SitePlant(DESIGN, ControlBounds())
    n = 8 * 24
    rows, targets = [], []
    for i, cond in enumerate(_conditions(START_S - (n - np.arange(n)) * HOUR_S)):
        if i % 3 == 0:
            supply = float(rng.choice(np.arange(17.0, 21.5, 1.0)))
            chw = float(rng.choice(np.arange(7.0, min(supply - 5.0, 13.0) + 0.5, 1.0)))
            economizer = bool(rng.random() < 0.5)
            cw = float(rng.choice(np.arange(20.0, 28.5, 2.0)))
            dp = float(rng.choice(np.arange(60e3, 100.5e3, 10e3)))
        controls = Controls(
            supply, chw, economizer, 1.0, condenser_water_setpoint_c=cw, chw_pump_dp_setpoint_pa=dp,
            chillers_running=3, towers_running=3,
        )  # fmt: skip
        r = plant.step(cond, controls, HOUR_S)
        # IT as the agent measures it on the twin's site: the UPS outputs (PDU losses included)
        rows.append(
            (r.it_power_w + r.pdu_loss_w, r.outdoor_dry_bulb_c, r.outdoor_wet_bulb_c, supply, chw, economizer, cw, dp)
        )
        targets.append((r.cooling_power_w, r.facility_power_w, r.max_inlet_c))
    inputs, y = np.array(rows, dtype=float), np.array(targets)
    model = fit_cooling_model(
        inputs, y[:, 0], y[:, 1], y[:, 2], random_state=0, it_fan_curve=False, regressor_params={"max_iter": 15},
        lever_columns=("condenser_water_setpoint_c", "chw_pump_dp_setpoint_pa"), lever_steps=(2.0, 10e3),
    )  # fmt: skip
    assert model.lever_columns == ("condenser_water_setpoint_c", "chw_pump_dp_setpoint_pa")
    out = tmp_path_factory.mktemp("lever-model")
    window = {"start": "2026-03-07T06:00:00Z", "end": "2026-03-15T06:00:00Z", "rows": n}
    save_model(model, out, window, source="tests/e2e/test_levers_run.py")
    return out


def _config(tmp: Path, levers: list[dict[str, float | str]], model_dir: Path | None) -> Path:
    """twin-site.yaml on free loopback ports, polled every simulated hour, auto mode, the given levers."""
    data = yaml.safe_load((ROOT / "configs" / "twin-site.yaml").read_text(encoding="utf-8"))
    base = free_udp_range(len(data["devices"]))
    for i, dev in enumerate(data["devices"]):
        dev.update(port=base + i, timeout_s=30.0, retries=1)  # simulated time: a slow answer costs nothing
    data.update(poll_interval_s=HOUR_S, pue_window_s=HOUR_S)
    data["listen"] = {"address": "127.0.0.1", "port": free_port()}
    data["recommender"] = {
        "mode": "auto",
        "action_log": str(tmp / "actions.jsonl"),
        "max_step_c": 2.0,
        "max_change_per_h_c": 4.0,
        "min_savings_fraction": 0.001,
        "min_confidence": 0.5,
        **({"model_dir": str(model_dir)} if model_dir is not None else {}),
        **({"levers": levers} if levers else {}),
    }
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


async def _run(config: Path, cycles: int, recommender: Any = None, zero_first: str | None = None) -> dict[str, Any]:
    """``cycles`` simulated hours: the agent polls and writes at the top of each, then the twin steps the hour; the
    history (SQLite, beside the config) written as `run` writes it."""
    cfg, profiles = load_config(config)
    store = SqliteHistoryStore(config.with_name("history.sqlite"))
    writer = HistoryWriter(store, cfg, setpoint_ranges=setpoint_ranges(cfg, profiles))  # as agent/app/run.py
    clock = SimClock(START_S - 0.5 * HOUR_S)
    site = TwinLiveSite(
        cfg, profiles, speed=1.0, start=datetime.fromtimestamp(clock.now_s, UTC), design=DESIGN, clock=clock
    )
    site.controls = replace(site.controls, crah_min_fan_speed=1.0)
    start_controls = site.controls
    if zero_first is not None:  # the plant's controller has not initialised this lever yet: it reads 0
        site.controls = replace(site.controls, **{zero_first: 0.0})  # type: ignore[arg-type]
    site.start()
    await site.ready()
    site.update()
    agent = Agent(cfg, profiles, clock=clock, recommender=recommender, observers=[writer])
    assert agent.controller is not None
    latest, controls = [], []
    try:
        for i in range(cycles):
            clock.now_s = START_S + i * HOUR_S
            await agent.poll_all_once()
            await agent.controller.wait_idle()
            latest.append(agent.controller.latest)
            if i == 0 and zero_first is not None:
                restored = {zero_first: getattr(start_controls, zero_first)}
                site.controls = replace(site.controls, **restored)
            clock.now_s = START_S + (i + 0.5) * HOUR_S
            controls.append(site.update().controls)
        actions = [a for a in agent.controller.actuator.actions]
        metrics = agent.registry.exposition(False).decode()
    finally:
        await agent.stop()
        site.stop()
        await asyncio.to_thread(writer.close)
    store = SqliteHistoryStore(config.with_name("history.sqlite"), readonly=True)
    try:
        intervals = store.site_intervals(0.0, 4e9)
    finally:
        store.close()
    return {"latest": latest, "controls": controls, "actions": actions, "intervals": intervals, "metrics": metrics}


def test_run_writes_levers_within_bounds_and_holds_on_an_uninitialised_read(tmp_path: Path, lever_model: Path) -> None:
    config = _config(tmp_path, LEVERS, lever_model)
    out = asyncio.run(_run(config, cycles=4, zero_first="condenser_water_setpoint_c"))
    # cycle 0: the condenser-water setpoint read 0 (outside the 18-32 C the plant's profile accepts): held, nothing
    # written that tick
    first = out["latest"][0]
    assert first.held_back_reason is not None and "condenser_water_setpoint_c" in first.held_back_reason
    assert first.held_back_reason.startswith("current values of the levers")
    assert "chiller-plant condenser_water_setpoint_c=0 outside 18-32" in first.held_back_reason
    assert all(a.timestamp_s > START_S for a in out["actions"])
    lever_writes = [a for a in out["actions"] if a.quantity in LEVER_NAMES and a.kind == "apply"]
    assert lever_writes, [(a.quantity, a.result, a.error) for a in out["actions"]]
    bounds = {lever["name"]: (lever["min"], lever["max"]) for lever in LEVERS}
    for a in lever_writes:
        assert a.device == "chiller-plant" and a.result == "ok", a
        assert a.quantity in bounds  # only the levers the site lists
        low, high = bounds[a.quantity]
        assert low <= a.requested <= high and a.after == pytest.approx(a.requested)  # read back
        assert a.before is not None and a.before != a.after
    # the last write of each lever is what the twin's plant ran in the following hour
    final = out["controls"][-1]
    for quantity in {a.quantity for a in lever_writes}:
        last = [a for a in lever_writes if a.quantity == quantity][-1]
        assert getattr(final, quantity) == pytest.approx(last.after)
    # the recommender saw the levers in force (what it recommended from is what the devices hold)
    rec = out["latest"][-1]
    assert len(rec.current.levers) == 2 and all(v > 0 for v in rec.current.levers)
    # and /metrics exports the recommended value of each listed lever
    for name, value in zip(agent_levers(out), rec.setpoints.levers, strict=True):
        assert f'pue_recommendation_lever_setpoint{{quantity="{name}"}} {float_text(value)}\n' in out["metrics"]
    # the history keeps the levers read, every one the plant serves (the retraining learns the listed ones)
    assert out["intervals"], "the history wrote site intervals"
    last = out["intervals"][-1]
    assert {"lever:condenser_water_setpoint_c", "lever:chillers_running"} <= set(last.terms)
    seconds, value = last.terms["lever:chw_pump_dp_setpoint_pa"]
    assert seconds > 0 and value / seconds == pytest.approx(rec.current.levers[1])


def test_without_levers_in_the_config_nothing_lever_related_is_written(tmp_path: Path) -> None:
    config = _config(tmp_path, [], None)
    cfg, _ = load_config(config)
    assert cfg.recommender is not None and not cfg.recommender.levers
    recommender = recommender_for(EconomizerOnlyPlant(), cfg.recommender)  # type: ignore[arg-type, unused-ignore]
    out = asyncio.run(_run(config, cycles=3, recommender=recommender))
    assert out["actions"], "the controller acted on the base setpoints"
    assert not [a for a in out["actions"] if a.quantity in LEVER_NAMES]
    for c in out["controls"]:
        for quantity, start in VS_START_LEVERS.items():
            assert getattr(c, quantity) == start
    assert all(len(r.current.levers) == 0 for r in out["latest"] if not isinstance(r, dict))
    assert "pue_recommendation_setpoint_celsius" in out["metrics"]
    assert "pue_recommendation_lever_setpoint" not in out["metrics"]


def agent_levers(out: dict[str, Any]) -> list[str]:
    """The levers the config lists, in the recommender's order (the config's)."""
    return [lever["name"] for lever in LEVERS]
