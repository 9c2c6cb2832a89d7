"""Known answers of the PUE family (pure models) and of the regression baseline."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config.standards import load_standards
from models.carbon import carbon_account
from models.metrics import (
    Gap,
    IntervalSeries,
    dcie_percent,
    ere,
    erf,
    find_gaps,
    gb40879_grade,
    period_metrics,
    ppue,
    ref,
    wue,
)
from models.mv import cooling_degree_days, fit_baseline, verified_savings

HOUR = 3600.0


def hourly(
    n: int, facility_kw: float, it_kw: float, cooling_kw: float, covered: np.ndarray | None = None
) -> IntervalSeries:
    covered_s = np.full(n, HOUR) if covered is None else covered
    return IntervalSeries.from_arrays(
        np.arange(n) * HOUR,
        np.full(n, HOUR),
        covered_s,
        facility_kw * 1e3 * covered_s,
        it_kw * 1e3 * covered_s,
        covered_s,
        cooling_kw * 1e3 * covered_s,
    )


def test_pue_dcie_ppue_known_answer() -> None:
    m = period_metrics(hourly(24, 150.0, 100.0, 35.0), 0.0, 24 * HOUR)
    assert m.pue == pytest.approx(1.5)
    assert m.dcie_percent == pytest.approx(100 / 1.5)
    assert m.facility_kwh == pytest.approx(3600.0) and m.it_kwh == pytest.approx(2400.0)
    assert m.cooling_kwh == pytest.approx(840.0) and m.other_kwh == pytest.approx(360.0)
    assert m.ppue_cooling == pytest.approx(1.35) and m.ppue_other == pytest.approx(1.15)
    assert m.coverage_ratio == 1.0 and m.gaps == ()


def test_gaps_are_listed_and_pue_withheld_below_min_coverage() -> None:
    covered = np.full(24, HOUR)
    covered[5:8] = 0.0  # three hours without data
    covered[10] = 1800.0  # half an hour
    series = hourly(24, 150.0, 100.0, 35.0, covered)
    m = period_metrics(series, 0.0, 24 * HOUR, min_coverage=0.95)
    assert m.pue is None and "coverage" in (m.reason or "")
    assert m.coverage_ratio == pytest.approx((24 - 3.5) / 24)
    assert m.gaps == (Gap(5 * HOUR, 8 * HOUR, 3 * HOUR), Gap(10 * HOUR, 11 * HOUR, 1800.0))
    relaxed = period_metrics(series, 0.0, 24 * HOUR, min_coverage=0.8)
    assert relaxed.pue == pytest.approx(1.5)  # over covered time only: still exact
    assert len(relaxed.gaps) == 2


def test_missing_intervals_and_period_edges_are_gaps() -> None:
    series = hourly(24, 150.0, 100.0, 35.0).between(2 * HOUR, 20 * HOUR)
    gaps = find_gaps(series.start_s, series.duration_s, series.covered_s, 0.0, 24 * HOUR)
    assert gaps == (Gap(0.0, 2 * HOUR, 2 * HOUR), Gap(20 * HOUR, 24 * HOUR, 4 * HOUR))


def test_cooling_not_metered_everywhere_gives_no_cooling_ppue() -> None:
    series = hourly(4, 150.0, 100.0, 35.0)
    partial = IntervalSeries(
        series.start_s,
        series.duration_s,
        series.covered_s,
        series.facility_j,
        series.it_j,
        np.array([HOUR, HOUR, 0.0, HOUR]),
        series.cooling_j,
    )
    m = period_metrics(partial, 0.0, 4 * HOUR)
    assert m.pue == pytest.approx(1.5) and m.cooling_kwh is None and m.ppue_cooling is None


def test_facility_below_it_is_refused() -> None:
    m = period_metrics(hourly(4, 90.0, 100.0, 0.0), 0.0, 4 * HOUR)
    assert m.pue is None and "facility below IT" in (m.reason or "")


def test_carbon_and_reuse_known_answers() -> None:
    # 1,000 MWh facility, 800 MWh IT, Southern grid 2023: 0.4042 kgCO2/kWh; no PV, fuel or green
    # electricity: CUE reduces to CEF x PUE
    plain = carbon_account(facility_kwh=1_000_000.0, it_kwh=800_000.0, grid_factor_kg_per_kwh=0.4042, route="location")
    assert plain.cue_kg_per_kwh == pytest.approx(0.50525)
    assert plain.total_t_co2 == pytest.approx(404.2)
    assert ere(1_000_000.0, 150_000.0, 800_000.0) == pytest.approx(1.0625)
    assert erf(150_000.0, 1_000_000.0) == pytest.approx(0.15)
    assert ref(300_000.0, 1_000_000.0) == pytest.approx(0.3)
    assert wue(1_440_000.0, 800_000.0) == pytest.approx(1.8)
    assert ppue(200.0, 800.0) == pytest.approx(1.25)
    assert dcie_percent(1.25) == pytest.approx(80.0) and dcie_percent(None) is None


@pytest.mark.parametrize(
    ("pue", "grade"), [(1.15, 1), (1.20, 1), (1.25, 2), (1.30, 2), (1.45, 3), (1.51, 0), (None, None)]
)
def test_gb40879_grades(pue: float | None, grade: int | None) -> None:
    assert gb40879_grade(pue, load_standards().grade.limits) == grade


def test_grade_thresholds_are_configurable_and_checked() -> None:
    assert gb40879_grade(1.25, (1.25, 1.35, 1.6)) == 1
    with pytest.raises(ValueError):
        gb40879_grade(1.2, (1.3, 1.2, 1.5))


def test_national_targets_are_tested_as_worded() -> None:
    """2024 plan: <= 1.25 new large, <= 1.2 hub nodes (1.25 and 1.20 themselves pass); 2021 plan: < 1.3 / < 1.25."""
    targets = {t.key: t for t in load_standards().targets}
    new_large, hub = targets["cn-2024-action-plan-new-large"], targets["cn-2024-action-plan-hub-node"]
    assert (new_large.value, new_large.comparison, hub.value, hub.comparison) == (1.25, "<=", 1.20, "<=")
    assert new_large.holds(1.25) and not new_large.holds(1.2501)
    assert hub.holds(1.20) and not hub.holds(1.21)
    old = targets["cn-2021-implementation-plan-hub-node"]
    assert old.superseded == "2024-07-23" and not old.holds(1.25) and old.holds(1.2499)
    assert {t.key for t in load_standards().current_targets} == {new_large.key, hub.key}


def test_regression_baseline_recovers_a_known_saving() -> None:
    rng = np.random.default_rng(1)
    n = 200
    it = 20_000 + rng.normal(0, 500, 2 * n)
    temps = 15 + 10 * np.sin(np.arange(2 * n) / 58) + rng.normal(0, 2, 2 * n)
    cdd = np.maximum(temps - 12, 0)
    facility = 1000 + 1.1 * it + 300 * cdd + rng.normal(0, 100, 2 * n)
    facility[n:] -= 500.0  # 500 kWh/day saved in the reporting period
    fit = fit_baseline(facility[:n], it[:n], cdd[:n])
    assert fit.coef_[1] == pytest.approx(1.1, abs=0.05) and fit.r2_ > 0.99
    s = verified_savings(fit, facility[n:], it[n:], cdd[n:], confidence=0.95)
    assert abs(s.saved_kwh - 500.0 * n) <= s.uncertainty_kwh
    assert s.significant and s.uncertainty_kwh < 0.2 * s.saved_kwh


def test_cooling_degree_days() -> None:
    assert cooling_degree_days([20.0, 10.0, 30.0], [24.0, 24.0, 12.0], 18.0) == pytest.approx(2 + 0 + 6)
