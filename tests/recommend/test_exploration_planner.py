"""The exploration planner: inside bounds and margins, one setpoint at a time, returns home, stops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.exploration import ExplorationBox, ExplorationPlanner, ExplorationSettings, peak_hour, safe_hour
from models.optimiser import SetpointSupport

HOME = (18.0, 7.0, False)
BOX = ExplorationBox(16.0, 25.0, 5.0, 18.0, 0.1, 0.1, rack_approach_k=4.0)


def _walk(planner: ExplorationPlanner, hours: int, approach_k: float, safe: list[bool]) -> list[tuple]:
    """Step a fake plant (hottest inlet = supply air + approach) hourly; return (current, step) pairs."""
    current = planner.home
    out = []
    for h in range(hours):
        step = planner.step(h * 3600.0, current, current[0] + approach_k, safe[h % len(safe)])
        out.append((current, step))
        current = step.setpoints
    return out


@settings(max_examples=40, deadline=None)
@given(
    home_s=st.sampled_from([17.0, 18.0, 19.5, 20.0]),
    home_c=st.sampled_from([6.0, 7.0, 9.0, 10.5]),
    step_k=st.sampled_from([0.5, 1.0, 1.5]),
    max_move_k=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    margin_k=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    approach_k=st.floats(3.0, 6.0),
    economizer=st.booleans(),
    safe=st.lists(st.booleans(), min_size=1, max_size=30),
    seed=st.integers(0, 3),
)
def test_steps_stay_inside_bounds_and_margins_one_setpoint_at_a_time(
    home_s: float,
    home_c: float,
    step_k: float,
    max_move_k: float,
    margin_k: float,
    approach_k: float,
    economizer: bool,
    safe: list[bool],
    seed: int,
) -> None:
    s = ExplorationSettings(step_k=step_k, max_move_k=max_move_k, hold_h=1.0, inlet_margin_k=margin_k, seed=seed)
    box = ExplorationBox(16.0, 25.0, 5.0, 18.0, 0.1, 0.1, rack_approach_k=approach_k)
    home = (home_s, home_c, economizer)
    planner = ExplorationPlanner(home, box, s)
    limit = s.inlet_limit_c - margin_k
    for point in planner.targets:
        assert box.supply_air_min_c <= point[0] <= box.supply_air_max_c
        assert box.chw_supply_min_c <= point[1] <= box.chw_supply_max_c
        assert point[0] + approach_k <= limit + 1e-6
        assert point[1] <= point[0] - s.coil_approach_k + 1e-6
    for current, step in _walk(planner, 200, approach_k, safe):
        new = step.setpoints
        moved = [abs(new[0] - current[0]) > 1e-9, abs(new[1] - current[1]) > 1e-9, new[2] != current[2]]
        assert sum(moved) <= 1, (current, new)  # one setpoint at a time
        assert abs(new[0] - current[0]) <= max(max_move_k, step_k) + 1e-6
        assert abs(new[1] - current[1]) <= max(max_move_k, step_k) + 1e-6
        assert box.supply_air_min_c - 1e-9 <= new[0] <= box.supply_air_max_c + 1e-9
        assert box.chw_supply_min_c - 1e-9 <= new[1] <= box.chw_supply_max_c + 1e-9
        if new[0] > current[0]:  # a warmer step is predicted to keep the hottest inlet inside the margin
            assert new[0] + approach_k <= limit + 1e-6
        # never leaves the coil able to make the supply air unless home itself could not
        shortfall_before = max(0.0, current[1] - (current[0] - s.coil_approach_k))
        assert new[1] - (new[0] - s.coil_approach_k) <= max(0.0, shortfall_before) + 1e-6


def test_returns_home_when_the_safe_hours_end_and_waits_there() -> None:
    planner = ExplorationPlanner(HOME, BOX, ExplorationSettings(hold_h=1.0, seed=2))
    walk = _walk(planner, 30, 4.0, [True])
    assert any(step.setpoints != HOME for _, step in walk)
    current = walk[-1][1].setpoints
    for h in range(30, 60):
        step = planner.step(h * 3600.0, current, current[0] + 4.0, False)
        assert step.state in ("returning", "waiting")
        current = step.setpoints
    assert current == HOME
    assert planner.step(61 * 3600.0, current, 22.0, False).state == "waiting"


def test_returns_home_when_the_inlet_is_too_warm() -> None:
    planner = ExplorationPlanner(HOME, BOX, ExplorationSettings(hold_h=1.0))
    current = _walk(planner, 40, 4.0, [True])[-1][1].setpoints
    for h in range(40, 80):
        step = planner.step(h * 3600.0, current, 26.5, True)  # above 27 - 1 K margin
        current = step.setpoints
    assert current == HOME


def test_widens_ring_by_ring_and_is_deterministic() -> None:
    a = ExplorationPlanner(HOME, BOX, ExplorationSettings(hold_h=1.0, seed=5))
    b = ExplorationPlanner(HOME, BOX, ExplorationSettings(hold_h=1.0, seed=5))
    assert a.targets == b.targets and a.rings == sorted(a.rings)
    current, rings = HOME, []
    for h in range(300):
        step = a.step(h * 3600.0, current, current[0] + 4.0, True)
        current = step.setpoints
        rings.append(a.ring)
        # a wider ring is opened only when every point of the narrower ones is done
        assert all(d for r, d in zip(a.rings, a.done, strict=True) if r < a.ring)
    assert rings == sorted(rings) and rings[-1] > 3
    assert [s.setpoints for _, s in _walk(b, 300, 4.0, [True])][:-1] == [
        s.setpoints
        for _, s in _walk(ExplorationPlanner(HOME, BOX, ExplorationSettings(hold_h=1.0, seed=5)), 299, 4.0, [True])
    ]
    assert a.visits > 10
    cold_rings = [a.rings[k] for k, p in enumerate(a.targets) if p[0] < HOME[0] or p[1] < HOME[1]]
    assert min(cold_rings) > max(
        r for r, p in zip(a.rings, a.targets, strict=True) if p[0] >= HOME[0] and p[1] >= HOME[1]
    )


def test_stops_when_the_support_covers_the_lattice_and_errors_are_small() -> None:
    planner = ExplorationPlanner(HOME, BOX, ExplorationSettings(target_support_fraction=0.9, max_inlet_mae_c=0.3))
    none = SetpointSupport.from_samples([HOME[0]], [HOME[1]], [HOME[2]], margin_k=0.0)
    assert planner.covered(none) == 0.0
    assert not planner.finish_if_good(0.0, 0.1, 0.5)
    pts = np.array([p[:2] for p in planner.targets])
    full = SetpointSupport.from_samples(pts[:, 0], pts[:, 1], [p[2] for p in planner.targets], margin_k=0.0)
    fraction = planner.covered(full)
    assert fraction == 1.0
    assert not planner.finish_if_good(fraction, 0.5, 0.5)  # inlet error still too large
    assert planner.finish_if_good(fraction, 0.2, 0.5)
    step = planner.step(0.0, HOME, 22.0, True)
    assert step.state == "finished" and not step.changed(HOME)


def test_safe_hours_avoid_the_warmest_hour() -> None:
    hours = np.arange(24 * 7) % 24
    temps = 10 + 5 * np.cos((hours - 15) / 24 * 2 * np.pi)
    assert peak_hour(hours, temps) == 15
    s = ExplorationSettings(avoid_peak_h=6.0)
    assert not safe_hour(15.5, s, 15) and not safe_hour(13.0, s, 15) and safe_hour(11.0, s, 15)
    assert safe_hour(15.0, ExplorationSettings(safe_hours=(15,)), 15)
    assert not safe_hour(3.0, ExplorationSettings(safe_hours=(15,)), 15)
