"""M&V guards: GL14 figures by hand, model-selection degrees of freedom, Monte Carlo coverage, the range
check on a twin year (Jan-Mar baseline applied to Jul-Sep), the IT-effect ECM, and the M&V plan."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from agent.app.cli import main
from agent.history.importer import import_history
from agent.history.store import SqliteHistoryStore
from agent.reports.mv_plan import MvPlan, NonRoutineAdjustment
from agent.reports.periods import parse_period
from agent.reports.report import load_emission_factor, savings_report
from models.mv import (
    Savings,
    daily_degree_days,
    fit_baseline,
    fit_change_point_baseline,
    gl14_nmbe_cv_rmse,
    verified_savings,
)
from models.mv_acceptance import GL14_LIMITS, gl14_acceptance, range_check
from twin.history_csv import write_site_history
from twin.simulate import SimulationResult, simulate
from twin.weather import load_site_weather

# --- GL14 figures against a hand-computed example ------------------------------------------------


def test_gl14_nmbe_and_cv_rmse_by_hand() -> None:
    # y = 10, 12, 14; y_hat = 11, 11, 13; p = 1
    # residuals y - y_hat = -1, +1, +1: sum 1, sum of squares 3; n - p = 2; y_bar = 12
    # NMBE = 1 / (2 x 12) = 0.041667; CV(RMSE) = sqrt(3 / 2) / 12 = 1.224745 / 12 = 0.102062
    nmbe, cv = gl14_nmbe_cv_rmse([10.0, 12.0, 14.0], [11.0, 11.0, 13.0], 1)
    assert nmbe == pytest.approx(1 / 24, abs=1e-12)
    assert cv == pytest.approx(math.sqrt(1.5) / 12, abs=1e-12)
    with pytest.raises(ValueError):
        gl14_nmbe_cv_rmse([1.0, 2.0], [1.0, 2.0], 2)


def test_gl14_figures_of_a_fitted_baseline_by_hand() -> None:
    # facility = a + b x CDD over 5 days, no IT term: x = 0, 1, 2, 3, 4 (x_bar 2, Sxx 10), y = 1, 3, 2, 5, 4 (y_bar 3)
    # Sxy = (-2)(-2) + (-1)(0) + 0 + (1)(2) + (2)(1) = 8: b = 0.8, a = 3 - 0.8 x 2 = 1.4
    # y_hat = 1.4, 2.2, 3.0, 3.8, 4.6; residuals -0.4, 0.8, -1.0, 1.2, -0.6 (sum 0); SSR = 3.6
    # p = 2: CV(RMSE) = sqrt(3.6 / 3) / 3 = 0.365148; NMBE = 0
    # with one balance point chosen by search, p = 3: CV(RMSE) = sqrt(3.6 / 2) / 3 = 0.447214
    y, x = [1.0, 3.0, 2.0, 5.0, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0]
    fit = fit_baseline(y, None, x)
    assert fit.coef_ == pytest.approx([1.4, 0.8])
    assert fit.n_params_ == 2 and fit.dof_ == 3
    assert fit.cv_rmse_ == pytest.approx(math.sqrt(1.2) / 3) and fit.nmbe_ == pytest.approx(0.0, abs=1e-12)
    assert fit_baseline(y, None, x, selection_params=1).cv_rmse_ == pytest.approx(math.sqrt(1.8) / 3)
    # GL14 limits: monthly +-5 % / 15 %, hourly +-10 % / 30 %; 36.5 % fails the hourly CV(RMSE) limit
    assert GL14_LIMITS == {"monthly": (5.0, 15.0), "hourly": (10.0, 30.0)}
    # FSU = U / saving: a saving of 10,000 kWh with standard error 1,000 kWh and (practically) infinite
    # degrees of freedom: at 90 % U = 1.644854 x 1,000, FSU 16.45 %; at 68 % U = 0.994458 x 1,000, FSU 9.94 % < 50 %
    s = Savings(20_000.0, 10_000.0, 10_000.0, 1644.854, 1000.0, 1.644854, 0.90, 30, 0.0, 1e12)
    a = gl14_acceptance(fit, s)
    assert a.fsu == pytest.approx(0.1644854) and a.fsu_68 == pytest.approx(0.0994458, rel=1e-5)
    assert a.fsu_passes and not a.model_passes and a.cv_rmse_limit == 0.30 and a.nmbe_limit == 0.10


# --- degrees of freedom of the model selection --------------------------------------------------


def _synthetic(rng: np.random.Generator, days: int, rho: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily facility kWh = 5,000 + 1.15 IT + 60 CDD(13 C) + AR(1) noise (sd 150 kWh); hourly temperatures."""
    daily = np.empty(days)
    daily[0] = 15.0
    for i in range(1, days):
        daily[i] = 15.0 + 0.7 * (daily[i - 1] - 15.0) + rng.normal(0, 4.0)
    hourly = daily[:, None] + 4.0 * np.sin(2 * np.pi * (np.arange(24) - 9) / 24)[None, :]
    it = 20_000.0 + rng.normal(0, 600.0, days)
    noise = np.zeros(days)
    noise[0] = rng.normal(0, 150.0)
    for i in range(1, days):
        noise[i] = rho * noise[i - 1] + rng.normal(0, 150.0 * math.sqrt(1 - rho**2))
    facility = 5_000.0 + 1.15 * it + 60.0 * daily_degree_days(hourly, (13.0,))[:, 0] + noise
    return facility, it, hourly


def test_counting_the_balance_points_widens_the_interval() -> None:
    facility, it, hourly = _synthetic(np.random.default_rng(3), 60)
    counted = fit_change_point_baseline(facility[:30], it[:30], hourly[:30])
    plain = fit_change_point_baseline(facility[:30], it[:30], hourly[:30], count_selection=False)
    assert counted.candidates_tried == plain.candidates_tried > 50  # one or two bases, 0-25 C
    assert counted.fit.selection_params_ == len(counted.bases_c) and plain.fit.selection_params_ == 0
    # the same model, the balance points counted or not: p, sigma and t all move
    cdd = daily_degree_days(hourly, counted.bases_c)
    same = fit_baseline(facility[:30], it[:30], cdd[:30], selection_params=0)
    with_p = fit_baseline(facility[:30], it[:30], cdd[:30], selection_params=len(counted.bases_c))
    assert with_p.sigma_kwh_ == pytest.approx(same.sigma_kwh_ * math.sqrt(same.dof_ / with_p.dof_))
    wide = verified_savings(with_p, facility[30:], it[30:], cdd[30:])
    narrow = verified_savings(same, facility[30:], it[30:], cdd[30:])
    assert wide.dof_effective == pytest.approx(narrow.dof_effective - len(counted.bases_c))
    assert wide.t_value > narrow.t_value and wide.uncertainty_kwh > 1.02 * narrow.uncertainty_kwh


@pytest.mark.slow
def test_monte_carlo_coverage_of_the_90_percent_interval() -> None:
    """400 trials: change-point search on 150 baseline days, 90 reporting days, 400 kWh/d saved, AR(1) residuals.

    The 90 % interval must cover the known saving in about 90 % of trials (binomial sd 1.5 %: 86-94 %).
    """
    rng = np.random.default_rng(7)
    covered = 0
    trials = 400
    for _ in range(trials):
        facility, it, hourly = _synthetic(rng, 240)
        facility[150:] -= 400.0
        cp = fit_change_point_baseline(facility[:150], it[:150], hourly[:150])
        s = verified_savings(cp.fit, facility[150:], it[150:], daily_degree_days(hourly[150:], cp.bases_c), 0.90)
        covered += abs(s.saved_kwh - 400.0 * 90) <= s.uncertainty_kwh
    assert 0.86 <= covered / trials <= 0.94, covered / trials


# --- range check ---------------------------------------------------------------------------------


def test_range_check_per_variable_and_jointly() -> None:
    # baseline: x1 and x2 rise together (0,0) .. (10,10); a reporting point (0,10) is inside each range
    # but far outside the joint region (hidden extrapolation), (5,5) is inside, (12,12) is outside x1 and x2
    base = np.column_stack([np.arange(11.0), np.arange(11.0) + np.tile([0.3, -0.3], 6)[:11]])
    r = range_check(base, [[5.0, 5.0], [0.0, 10.0], [12.0, 12.0], [5.0, 5.2]], ["x1", "x2"])
    assert r.outside_share == (0.25, 0.25)
    assert r.joint_outside_share == 0.5 and r.days == 4
    assert r.exceeds(0.4) and not r.exceeds(0.5)


# --- the twin: Jan-Mar baseline on Jul-Sep, the IT-effect ECM ------------------------------------

T_JUL2 = datetime(2026, 7, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def twin_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SimulationResult, SimulationResult]:
    """Two twin years at 60-min steps: baseline controller all year (no change), and baseline until 1 July
    then the oracle (an ECM that resets setpoints and so changes IT energy: server fans follow the inlet)."""
    weather = load_site_weather("guiyang")
    base = simulate(weather, days=364, step_s=3600.0, controller="baseline")
    oracle = simulate(weather, days=182, step_s=3600.0, controller="oracle", start=T_JUL2)
    change = 182 * 24
    mixed = SimulationResult(
        interval_s=3600.0,
        **{
            f.name: np.concatenate([getattr(base, f.name)[:change], getattr(oracle, f.name)])
            for f in dataclasses.fields(SimulationResult)
            if f.name != "interval_s"
        },
    )
    root = tmp_path_factory.mktemp("mv")
    dbs = []
    for name, result in (("nochange", base), ("ecm", mixed)):
        write_site_history(result, root / f"{name}.csv")
        with SqliteHistoryStore(root / f"{name}.sqlite") as store:
            import_history(store, root / f"{name}.csv", 1)
        dbs.append(root / f"{name}.sqlite")
    return dbs[0], dbs[1], base, oracle


def test_jan_mar_baseline_on_jul_sep_is_refused_or_flagged_not_a_saving(
    twin_runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nochange, _, _, _ = twin_runs
    args = ["report", "--db", str(nochange), "--baseline", "2026-01-01..2026-03-31"]
    args += ["--compare", "2026-07-01..2026-09-30", "--out", str(tmp_path / "s.html")]
    assert main(args) == 2  # refused by default: before the guard this read "10,712 +- 2,552 kWh", significant
    err = capsys.readouterr().err
    assert "outside the baseline's conditions on 100% of its 92 days (limit 10%" in err
    assert "CDD(base 14 C) 100%" in err and "mean temperature 100%" in err
    assert main([*args, "--extrapolation", "flag"]) == 0
    out = capsys.readouterr().out
    assert "NOT VERIFIED: the reporting period lies outside the baseline's conditions" in out
    assert "Range check: 100.0% of the 92 reporting days" in out and "EXTRAPOLATED" in out
    with SqliteHistoryStore(nochange, readonly=True) as store:
        flagged = savings_report(
            store,
            parse_period("2026-01-01..2026-03-31"),
            parse_period("2026-07-01..2026-09-30"),
            load_emission_factor("cn-mee-2023-southern"),
            extrapolation="flag",
        )
        # the same periods a year apart in conditions, but a baseline spanning them: no change, no saving
        spanning = savings_report(
            store,
            parse_period("2026-01-01..2026-07-01"),
            parse_period("2026-07-02..2026-12-30"),
            load_emission_factor("cn-mee-2023-southern"),
        )
    assert flagged.extrapolated and not flagged.verified and flagged.range is not None
    assert flagged.range.joint_outside_share == 1.0
    assert not spanning.extrapolated and not spanning.savings.significant, spanning.savings
    # --max-outside 1 accepts anything: the check is the only thing standing between this case and a "saving"
    assert main([*args, "--max-outside", "1"]) == 0
    assert "NOT VERIFIED" not in capsys.readouterr().out


def _truth_kwh(base: SimulationResult, oracle: SimulationResult, days: int) -> tuple[float, float]:
    """What the ECM saved in facility energy (the baseline controller's minus the oracle's), and its IT increase."""
    hours = slice(182 * 24, 182 * 24 + days * 24)
    saved = float((base.facility_power_w[hours] - oracle.facility_power_w[: days * 24]).sum()) / 1e3
    extra_it = float((oracle.it_power_w[: days * 24] - base.it_power_w[hours]).sum()) / 1e3
    return saved, extra_it


def test_an_ecm_that_raises_it_energy_is_not_credited_with_it_load_static(
    twin_runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, ecm, base, oracle = twin_runs
    factor = load_emission_factor("cn-mee-2023-southern")
    periods = parse_period("2026-01-01..2026-07-01"), parse_period("2026-07-02..2026-12-30")
    with SqliteHistoryStore(ecm, readonly=True) as store:
        regressor = savings_report(store, *periods, factor)
        static = savings_report(store, *periods, factor, it_load="static")
    truth, extra_it = _truth_kwh(base, oracle, static.savings.days)
    assert extra_it > 1000.0  # the measure raised IT energy
    # IT as a regressor credits the measure's extra IT energy at the model's IT coefficient (~1.157), and the
    # truth falls outside its (tight) interval: the reason for the option
    r = regressor.savings
    assert r.saved_kwh - truth == pytest.approx(regressor.fit.coef_[1] * extra_it, rel=0.1)
    assert abs(r.saved_kwh - truth) > r.uncertainty_kwh
    # IT held static: nothing credited for the IT increase, the truth inside the stated interval
    s = static.savings
    assert not static.fit.uses_it and s.significant
    assert abs(s.saved_kwh - truth) <= s.uncertainty_kwh, (s.saved_kwh, truth, s.uncertainty_kwh)
    args = ["report", "--db", str(ecm), "--baseline", "2026-01-01..2026-07-01", "--compare", "2026-07-02..2026-12-30"]
    assert main([*args, "--it-load", "static", "--out", str(tmp_path / "s.html")]) == 0
    out = capsys.readouterr().out
    assert "IT energy normalisation: none, IT load held static" in out
    it_line = next(line for line in out.splitlines() if line.startswith("IT energy: baseline"))
    it_change_kwh = static.compare_it_kwh - static.baseline_it_kwh_per_day * static.savings.days
    assert f"that is {it_change_kwh * static.baseline_pue:+,.0f} kWh of facility energy" in it_line
    assert "Avoided energy: " in out and "ASHRAE Guideline 14: NMBE" in out and "FSU" in out
    assert "avoided energy (reporting-period basis), not normalised savings" in out
    assert main([*args, "--out", str(tmp_path / "r.html")]) == 0
    assert "credited as saving at 1.157 kWh per kWh" in capsys.readouterr().out


# --- the M&V plan: ECM, boundary, non-routine adjustments -----------------------------------------


def test_mv_plan_states_ecm_boundary_and_applies_adjustments(
    twin_runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, ecm, _, _ = twin_runs
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "ecm: Setpoints reset by the optimiser from 2026-07-02\n"
        "boundary: Whole facility, utility meter at the 10 kV incomer\n"
        "adjustments:\n"
        "  - period: 2026-08-01..2026-08-15\n"
        "    kwh: 12000\n"
        "    description: load bank test in hall B\n"
        "    standard_uncertainty_kwh: 500\n",
        encoding="utf-8",
    )
    args = ["report", "--db", str(ecm), "--baseline", "2026-01-01..2026-07-01", "--compare", "2026-07-02..2026-12-30"]
    args += ["--out", str(tmp_path / "s.html")]
    assert main([*args, "--mv-plan", str(plan), "--adjustment", "2026-09-01", "-2000", "meter swap"]) == 0
    out = capsys.readouterr().out
    assert "ECM: Setpoints reset by the optimiser from 2026-07-02" in out
    assert "Measurement boundary: Whole facility, utility meter at the 10 kV incomer" in out
    assert "Non-routine adjustments (added to the adjusted baseline): +10,000 kWh" in out
    assert "- 2026-08-01 00:00 to 2026-08-16 00:00: +12,000 kWh (standard uncertainty 500 kWh): load bank test" in out
    factor = load_emission_factor("cn-mee-2023-southern")
    periods = parse_period("2026-01-01..2026-07-01"), parse_period("2026-07-02..2026-12-30")
    adjusted = MvPlan(adjustments=(NonRoutineAdjustment(*parse_period("2026-08"), 10_000.0, "x", 500.0),))
    with SqliteHistoryStore(ecm, readonly=True) as store:
        plain = savings_report(store, *periods, factor).savings
        with_nra = savings_report(store, *periods, factor, plan=adjusted).savings
    assert with_nra.saved_kwh == pytest.approx(plain.saved_kwh + 10_000.0)
    assert with_nra.standard_error_kwh == pytest.approx(math.hypot(plain.standard_error_kwh, 500.0))
    # an adjustment outside the reporting period, an unknown key: refused, exit 2
    assert main([*args, "--adjustment", "2026-06-01", "100", "before the period"]) == 2
    assert "lies outside the reporting period" in capsys.readouterr().err
    plan.write_text("ecm: x\nadjustmentz: []\n", encoding="utf-8")
    assert main([*args, "--mv-plan", str(plan)]) == 2
    assert "adjustmentz: unknown key" in capsys.readouterr().err
