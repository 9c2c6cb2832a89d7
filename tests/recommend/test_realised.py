"""Realised savings on the twin: measured savings of applied changes match the twin's truth within their
uncertainty; poor realisations in a row pause the controller; results survive a restart.

The twin's truth is a counterfactual plant: at each change a copy of the plant keeps running the old
setpoints through the same hours (same weather, same IT load), and the true saving is its facility power
less the plant's. The agent's side sees only what it would measure: conditions, setpoints, facility power.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from agent.control.engine import Conditions, Recommender, Setpoints
from agent.control.realised import RealisedSavings, Sample
from models.cooling import CoolingModel
from models.realised import is_poor, realised_saving
from tests.recommend.conftest import FakePlant
from twin.design import Controls
from twin.simulate import utilisation_at
from twin.site import SiteConditions, SitePlant
from twin.weather import load_site_weather, weather_at

TICK_S = 300.0
SETTLE_S = 900.0
WINDOW_S = 3600.0
POOR = (18.0, 7.0, False)  # a cold, chiller-only plant: what the changes move away from and back to


@dataclass
class Episode:
    changed_s: float
    truth: list[tuple[float, float]]  # (tick time, counterfactual - actual facility power [W])


def _conditions(weather: object, t: float, design: object) -> SiteConditions:
    times = np.array([t])
    outdoor = weather_at(weather, times)  # type: ignore[arg-type]
    traces = utilisation_at(times, weather.utc_offset_h)  # type: ignore[attr-defined]
    util = np.clip(traces[0, design.rack_trace_index] * design.rack_utilisation_gain, 0.0, 1.0)  # type: ignore[attr-defined]
    return SiteConditions(
        float(outdoor.dry_bulb_c[0]),
        float(outdoor.wet_bulb_c[0]),
        float(outdoor.rh_percent[0]),
        float(outdoor.pressure_pa[0]),
        tuple(float(u) for u in util),
    )


def _controls(setpoints: tuple[float, float, bool]) -> Controls:
    return Controls(setpoints[0], setpoints[1], setpoints[2])


def test_realised_savings_match_the_twins_counterfactual_within_their_uncertainty(
    model: CoolingModel, tmp_path: Path
) -> None:
    weather = load_site_weather("guiyang")
    plant = SitePlant()
    design = plant.design
    tracker = RealisedSavings(SETTLE_S, WINDOW_S, tmp_path / "realised.jsonl", poor_to_pause=0)
    recommender = Recommender(model, max_step_c=3.0, max_change_per_h_c=20.0, economizer_min_dwell_s=0.0)
    start = datetime(2026, 1, 20, tzinfo=UTC).timestamp()  # inside the model's 60 training days
    current = POOR
    counterfactual: SitePlant | None = None
    old: tuple[float, float, bool] = current
    episodes: list[Episode] = []
    change_every = 9  # ticks before a change: 45 min before, then 3 h at the new setpoints
    t = start
    last = plant.step(_conditions(weather, start - TICK_S, design), _controls(current), TICK_S)
    for tick in range(int(14 * 3600 / TICK_S)):
        t = start + tick * TICK_S
        cond = _conditions(weather, t, design)
        if tick % 36 == change_every:  # every 3 h: recommend a better setting, or go back to the poor one
            if current == POOR:
                rec = recommender.recommend(
                    t,
                    Conditions(last.it_power_w, last.outdoor_dry_bulb_c, last.outdoor_wet_bulb_c),
                    Setpoints(*current),
                    True,
                )
                new = (
                    rec.setpoints.supply_air_setpoint_c,
                    rec.setpoints.chw_supply_setpoint_c,
                    rec.setpoints.economizer_enabled,
                )
                predicted = rec.predicted_savings_w
            else:
                new, predicted = POOR, 0.0
            if new != current:
                counterfactual = copy.deepcopy(plant)
                old, current = current, new
                tracker.applied(t, old, new, predicted, model)
                episodes.append(Episode(t, []))
        last = plant.step(cond, _controls(current), TICK_S)
        if counterfactual is not None:
            truth = counterfactual.step(cond, _controls(old), TICK_S).facility_power_w - last.facility_power_w
            episodes[-1].truth.append((t, truth))
        tracker.observe(
            Sample(
                t, last.it_power_w, cond.outdoor_dry_bulb_c, cond.outdoor_wet_bulb_c, current, last.facility_power_w
            ),
            model,
        )
    results = [r for r in tracker.results if "realised_w" in r]
    assert len(results) >= 4, tracker.counts
    realised, truth, variance = 0.0, 0.0, 0.0
    for record in results:
        episode = next(e for e in episodes if e.changed_s == record["changed_s"])
        first = record["changed_s"] + SETTLE_S
        true_w = float(np.mean([w for ts, w in episode.truth if first <= ts <= record["closed_s"]]))
        # each action within 3 of its standard deviations of the truth
        assert abs(record["realised_w"] - true_w) <= 3 * record["std_w"], (record, true_w)
        realised += record["realised_w"]
        truth += true_w
        variance += record["std_w"] ** 2
    # the changes matter (tens of kW each way), and the sum matches the truth within two standard deviations
    assert max(abs(r["realised_w"]) for r in results) > 10 * math.sqrt(variance / len(results))
    print(
        f"realised savings on the twin: {len(results)} actions, sum realised {realised / 1e3:.2f} kW, "
        f"truth {truth / 1e3:.2f} kW, 1 std {math.sqrt(variance) / 1e3:.2f} kW"
    )
    assert abs(realised - truth) <= 2 * math.sqrt(variance), (realised, truth, math.sqrt(variance))
    sums = tracker.period_sums(now_s=t)
    assert sums["month"]["actions"] == len(results)
    assert sums["month"]["realised_w"] == pytest.approx(realised)
    # a restart reads the results back: the same sums (a damaged line is skipped, not fatal)
    with (tmp_path / "realised.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"id": 99, "closed_s": 1}\nnot json\n')
    again = RealisedSavings(SETTLE_S, WINDOW_S, tmp_path / "realised.jsonl", poor_to_pause=0)
    assert again.period_sums(now_s=t) == sums


def test_poor_realisations_in_a_row_pause_the_controller_with_the_reason() -> None:
    # the model predicts a large saving for warmer chilled water, the plant draws the same power: nothing saved
    fake = FakePlant()
    old, new = (18.0, 7.0, False), (18.0, 12.0, False)
    tracker = RealisedSavings(0.0, 1800.0, None, poor_to_pause=3, pause_s=7200.0)
    t = 0.0
    for change in range(3):
        assert tracker.paused(t) is None
        for _ in range(6):  # 30 min before at the old setpoints
            t += TICK_S
            power = float(fake.predict(np.array([[800e3, 8.0, 5.0, *old[:2], 0.0]])).facility_power_w[0])
            tracker.observe(Sample(t, 800e3, 8.0, 5.0, old, power), fake)
        tracker.applied(t, old, new, 5e3, fake)
        for _ in range(7):  # the window is 30 min: the evaluation closes itself
            t += TICK_S
            tracker.observe(Sample(t, 800e3, 8.0, 5.0, new, power), fake)  # same power as before: no saving
        assert tracker.open is None
        assert tracker.poor_in_a_row == change + 1
        assert tracker.results[-1]["result"] == "short"
    reason = tracker.paused(t)
    assert reason is not None and reason.startswith("paused after 3 applied changes in a row realised less")
    assert tracker.paused(t + 7201.0) is None and tracker.poor_in_a_row == 0  # the pause runs out


def test_a_change_that_saves_what_was_predicted_is_not_poor() -> None:
    fake = FakePlant()
    old, new = (18.0, 7.0, False), (18.0, 12.0, False)
    rows = lambda sp: np.array([[800e3, 8.0, 5.0, sp[0], sp[1], float(sp[2])]])  # noqa: E731
    before_w = float(fake.predict(rows(old)).facility_power_w[0])
    after_w = float(fake.predict(rows(new)).facility_power_w[0])
    times = np.arange(12) * TICK_S
    saving = realised_saving(
        fake,
        old,
        new,
        times + 7200,
        [[800e3, 8.0, 5.0]] * 12,
        [after_w] * 12,
        times,
        [[800e3, 8.0, 5.0]] * 12,
        [before_w] * 12,
    )
    assert saving.realised_w == pytest.approx(before_w - after_w) and saving.predicted_w == pytest.approx(
        before_w - after_w
    )
    assert not is_poor(saving)
    # 12 ticks 5 min apart span an hour: they count as 4 independent samples each side, not 12
    assert saving.n_eff_after == pytest.approx(4.0) and saving.std_w == pytest.approx(1e3 * math.sqrt(2 / 4))


def test_the_controller_holds_back_with_the_pause_reason_until_it_runs_out_or_a_model_swaps_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from agent.config.site import RecommenderConfig, load_config
    from agent.control.actuator import SetpointActuator
    from agent.control.controller import CoolingController
    from agent.control.engine import Recommendation

    root = Path(__file__).resolve().parents[2]
    cfg, profiles = load_config(root / "configs" / "twin-site.yaml")
    rcfg = RecommenderConfig(mode="advise", action_log=tmp_path / "actions.jsonl")
    actuator = SetpointActuator(cfg, profiles, writer=None, log_path=None)  # type: ignore[arg-type]
    controller = CoolingController(cfg, rcfg, None, actuator, clock=lambda: 0.0)
    now, target = Setpoints(18.0, 7.0, False), Setpoints(19.0, 8.0, True)

    class Stub:
        model = FakePlant()

        def recommend(self, t: float, *_: object) -> Recommendation:
            return Recommendation(t, target, now, 1.3e6, 1.25e6, 1.41, 1.36, 24.5, 50e3, 0.97, "m", None)

    controller.recommender = Stub()  # type: ignore[assignment]
    inputs = {"conditions": Conditions(800e3, 8.0, 5.0), "current": now, "max_inlet_c": 22.0}
    monkeypatch.setattr(controller, "_inputs", lambda *a, **k: (inputs, True, None))
    controller.realised.paused_until_s, controller.realised.pause_reason = 5000.0, "paused after 3 applied changes"

    def tick(t: float) -> str | None:
        site = SimpleNamespace(timestamp_s=t, facility_w=SimpleNamespace(value=1.3e6))
        controller.on_site(site, SimpleNamespace())  # type: ignore[arg-type]
        latest = controller.latest
        assert isinstance(latest, Recommendation)
        return latest.held_back_reason

    assert tick(1000.0) == "paused after 3 applied changes"
    assert controller.recommendation_json()["realised_savings"]["pause_reason"] == "paused after 3 applied changes"
    controller.on_model_swapped(object())
    assert tick(1010.0) is None
    controller.realised.paused_until_s, controller.realised.pause_reason = 5000.0, "paused after 3 applied changes"
    assert tick(1020.0) is not None and tick(5001.0) is None  # the pause runs out
