"""PUE reports an auditor can sign: period metrics with their method statement, and verified savings.

:func:`period_report` gathers, for a period: PUE per month and for the whole period with coverage,
gaps and the measurement category; the energy breakdown (IT, cooling, losses and other); PUE against
outdoor temperature; carbon and compliance (:mod:`agent.reports.compliance`: CUE, tCO2 and REF with
the configured factor, route, green electricity and diesel; the GB 40879 grade on 12-month periods only,
targets as dated references). :func:`savings_report` fits a regression baseline (:mod:`models.mv`) and states
the avoided energy with its guards (range check, ASHRAE Guideline 14 figures) and the M&V plan.
Both are computed here; :mod:`agent.reports.text` writes them as text and
:func:`agent.reports.render.render` draws them as PDF or HTML.

Periods are calendar periods in the site's time zone (``site.timezone``, default UTC; China sites use
Asia/Shanghai so that a month is a Beijing-time month); timestamps in exports stay UTC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import numpy as np

from agent.config.emission import EMISSION_FACTORS_FILE, EmissionFactor, load_emission_factor
from agent.config.site import CarbonConfig
from agent.errors import HistoryQueryError
from agent.history.columns import RollupColumns, rollup_columns
from agent.history.records import HistoryStore
from agent.reports.compliance import Compliance, PeriodCarbon, period_carbon, period_compliance
from agent.reports.mv_plan import NO_PLAN, MvPlan
from agent.reports.options import DEFAULT_MAX_OUTSIDE_SHARE, EXTRAPOLATION_CHOICES, IT_LOAD_CHOICES
from agent.reports.periods import add_month, check_whole_hours, iso_day, local_day_spans, zone_name
from models.metrics import IntervalSeries, PeriodMetrics, gb40879_grade, period_metrics
from models.mv import BaselineFit, Savings, daily_degree_days, fit_change_point_baseline, verified_savings
from models.mv_acceptance import Gl14Acceptance, RangeCheck, gl14_acceptance, range_check

__all__ = [
    "DEFAULT_MAX_OUTSIDE_SHARE",
    "EMISSION_FACTORS_FILE",
    "EXTRAPOLATION_CHOICES",
    "IT_LOAD_CHOICES",
    "EmissionFactor",
    "PeriodReport",
    "SavingsReport",
    "load_emission_factor",
    "period_report",
    "savings_report",
]


def _series(cols: RollupColumns) -> IntervalSeries:
    """The buckets as intervals (a bucket without a term has none of it covered)."""
    return IntervalSeries.from_arrays(
        cols.start_s,
        [float(cols.resolution_s)] * len(cols),
        cols.covered_s,
        cols.facility_j,
        cols.it_j,
        cols.cooling_covered_s,
        cols.cooling_j,
        cols.terms,
    )


def _daily_pue(cols: RollupColumns, tz: tzinfo) -> list[tuple[float, float]]:
    """(mean outdoor dry bulb, PUE) of each complete local day (covered, IT energy, temperature every hour)."""
    daily: list[tuple[float, float]] = []
    for _start, length_s, lo, hi in local_day_spans(cols.start_s, tz):
        temperatures = [t for t in cols.outdoor_dry_bulb_c[lo:hi] if t is not None]
        it_j = sum(cols.it_j[lo:hi])
        if sum(cols.covered_s[lo:hi]) >= 0.99 * length_s and it_j > 0 and len(temperatures) == hi - lo:
            daily.append((sum(temperatures) / len(temperatures), sum(cols.facility_j[lo:hi]) / it_j))
    return daily


# --- period report -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PeriodReport:
    site: str
    start_s: float
    end_s: float
    total: PeriodMetrics
    months: tuple[tuple[str, PeriodMetrics], ...]
    daily_pue: tuple[tuple[float, float], ...]  # (mean outdoor dry bulb [C], PUE) per complete day
    factor: EmissionFactor | None  # None: no emission factor configured, no carbon figure
    cue_kg_per_kwh: float | None
    emissions_t: float | None
    grade: int | None  # GB 40879 grade: 12-month periods only
    thresholds: tuple[float, float, float]
    methods: tuple[str, ...]
    categories: tuple[int, ...]
    sources: tuple[str, ...]
    meters: tuple[str, ...]
    min_coverage: float
    carbon: PeriodCarbon
    compliance: Compliance
    timezone: str = "UTC"


def period_report(
    store: HistoryStore,
    start_s: float,
    end_s: float,
    factor: EmissionFactor | None,
    *,
    site: str = "site",
    thresholds: Sequence[float] | None = None,
    min_coverage: float = 0.95,
    meters: Sequence[str] = (),
    tz: tzinfo = UTC,
    carbon: CarbonConfig | None = None,
) -> PeriodReport:
    """Everything a period report states, from the hourly rollups; months and days are local to ``tz``.

    ``factor`` is the grid emission factor (None: no carbon figure); ``carbon`` the site's carbon config
    (route, green electricity, diesel). ``thresholds`` override the GB 40879 limits of the shipped table.

    Raises
    ------
    HistoryQueryError
        no data at all in the period; a zone whose offset is not whole hours; a factor that does not
        fit the configured route.
    """
    check_whole_hours(tz, start_s, end_s)
    cols = rollup_columns(store, 3600, start_s, end_s)  # a year: 8,760 hours read as columns, not objects
    if not len(cols):
        raise HistoryQueryError(f"no history between {iso_day(start_s, tz)} and {iso_day(end_s, tz)} {zone_name(tz)}")
    series = _series(cols)
    total = period_metrics(series, start_s, end_s, min_coverage)
    months = []
    month = datetime.fromtimestamp(start_s, tz=tz)
    month = month.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month.timestamp() < end_s:
        following = add_month(month)
        lo, hi = max(month.timestamp(), start_s), min(following.timestamp(), end_s)
        months.append((month.strftime("%Y-%m"), period_metrics(series, lo, hi, min_coverage)))
        month = following
    daily = _daily_pue(cols, tz)
    methods = sorted(cols.methods)
    categories = tuple(sorted(cols.it_categories))
    compliance = period_compliance(total, start_s, end_s, tz, categories)
    if thresholds is not None:
        grade_table = dataclasses.replace(
            compliance.standards.grade, limits=(thresholds[0], thresholds[1], thresholds[2])
        )
        standards = dataclasses.replace(compliance.standards, grade=grade_table)
        compliance = dataclasses.replace(
            compliance,
            standards=standards,
            grade=gb40879_grade(total.pue, grade_table.limits) if compliance.annual else None,
        )
    limits = compliance.standards.grade.limits
    carbon_result = period_carbon(total, start_s, end_s, tz, factor, carbon, "renewable_j" in series.terms)
    account = carbon_result.account
    return PeriodReport(
        site=site,
        start_s=start_s,
        end_s=end_s,
        total=total,
        months=tuple(months),
        daily_pue=tuple(daily),
        factor=factor,
        cue_kg_per_kwh=None if account is None else account.cue_kg_per_kwh,
        emissions_t=None if account is None else account.total_t_co2,
        grade=compliance.grade,
        thresholds=limits,
        methods=tuple(methods),
        categories=categories,
        sources=tuple(sorted(cols.sources)),
        meters=tuple(meters),
        min_coverage=min_coverage,
        carbon=carbon_result,
        compliance=compliance,
        timezone=zone_name(tz),
    )


# --- savings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavingsReport:
    """Avoided energy (IPMVP, reporting-period basis) with its baseline, guards and M&V plan."""

    baseline: tuple[float, float]
    compare: tuple[float, float]
    fit: BaselineFit
    savings: Savings
    temperature: str
    bases_c: tuple[float, ...]
    compare_it_kwh: float
    factor: EmissionFactor | None  # None: no emission factor configured, no tCO2 figure
    excluded_days: int
    daily_predicted_kwh: tuple[float, ...]
    daily_actual_kwh: tuple[float, ...]
    daily_start_s: tuple[float, ...]
    timezone: str = "UTC"
    range: RangeCheck | None = None
    max_outside_share: float = DEFAULT_MAX_OUTSIDE_SHARE
    it_load: str = "regressor"
    baseline_it_kwh_per_day: float = 0.0
    baseline_pue: float = 0.0
    candidates_tried: int = 0
    acceptance: Gl14Acceptance | None = None
    plan: MvPlan = NO_PLAN

    @property
    def extrapolated(self) -> bool:
        """More of the reporting period lies outside the baseline's conditions than ``max_outside_share``."""
        return self.range is not None and self.range.exceeds(self.max_outside_share)

    @property
    def verified(self) -> bool:
        """A saving that can be stated: significant, and not extrapolated."""
        return self.savings.significant and not self.extrapolated

    @property
    def compare_it_kwh_per_day(self) -> float:
        return self.compare_it_kwh / self.savings.days

    @property
    def saved_t_co2(self) -> float | None:
        if self.factor is None:
            return None
        return self.savings.saved_kwh * self.factor.kg_co2_per_kwh / 1000.0

    @property
    def pue_points(self) -> float:
        return self.savings.saved_kwh / self.compare_it_kwh

    @property
    def pue_points_uncertainty(self) -> float:
        return self.savings.uncertainty_kwh / self.compare_it_kwh


def _daily(
    store: HistoryStore, start_s: float, end_s: float, temperature: str, tz: tzinfo = UTC
) -> tuple[np.ndarray[Any, Any], ...]:
    """Complete local days (24 covered hours with ``temperature``, the outdoor dry or wet bulb): start, facility
    kWh, IT kWh, hourly temperatures (days x 24); and the number of days excluded (gaps; 23- or 25-hour DST days
    too). The hours are read as columns (summed in the order and arithmetic of the rollup objects: bit-identical)."""
    cols = rollup_columns(store, 3600, start_s, end_s)
    hourly = {"outdoor_dry_bulb_c": cols.outdoor_dry_bulb_c, "outdoor_wet_bulb_c": cols.outdoor_wet_bulb_c}[temperature]
    by_day = {start: (lo, hi) for start, _length, lo, hi in local_day_spans(cols.start_s, tz)}
    starts, fac, it, temps = [], [], [], []
    excluded = 0
    day = datetime.fromtimestamp(start_s, tz=tz).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() < end_s:
        lo, hi = by_day.get(day.timestamp(), (0, 0))
        day_s = day.timestamp()
        day = (day + timedelta(days=1)).replace(hour=0, tzinfo=tz)
        hours = range(lo, hi)
        ok = hi - lo == 24 and all(cols.covered_s[i] >= 3600 - 1e-6 and hourly[i] is not None for i in hours)
        if not ok:
            excluded += 1
            continue
        starts.append(day_s)
        fac.append(sum(cols.facility_j[lo:hi]) / 3.6e6)
        it.append(sum(cols.it_j[lo:hi]) / 3.6e6)
        temps.append(hourly[lo:hi])
    return (
        np.array(starts, dtype=float),
        np.array(fac),
        np.array(it),
        np.array(temps, dtype=float).reshape(-1, 24),
        np.array([excluded]),
    )


def _conditions(it_kwh: np.ndarray[Any, Any] | None, temps: np.ndarray[Any, Any], bases: Sequence[float]) -> Any:
    """The variables the range check compares: IT kWh/d (when a regressor), each CDD, the daily mean temperature."""
    columns = ([] if it_kwh is None else [it_kwh]) + [daily_degree_days(temps, bases), temps.mean(axis=1)]
    names = ([] if it_kwh is None else ["IT kWh/d"]) + [f"CDD(base {b:g} C)" for b in bases] + ["mean temperature"]
    return np.column_stack(columns), names


def savings_report(
    store: HistoryStore,
    baseline: tuple[float, float],
    compare: tuple[float, float],
    factor: EmissionFactor | None,
    confidence: float = 0.90,
    tz: tzinfo = UTC,
    *,
    it_load: str = "regressor",
    extrapolation: str = "refuse",
    max_outside_share: float = DEFAULT_MAX_OUTSIDE_SHARE,
    plan: MvPlan = NO_PLAN,
) -> SavingsReport:
    """Fit facility kWh/d ~ [IT kWh/d +] cooling degree-days on ``baseline``; state the avoided energy on ``compare``.

    Only complete days (24 covered hours with outdoor temperature) are used; the number excluded is
    reported. The temperature is the outdoor wet bulb when every day has it (cooling towers and
    economizers follow it), the dry bulb otherwise; the balance points are chosen on the baseline
    (change-point search over one or two bases, lowest residual standard error; each balance point
    counts as a parameter). ``it_load`` is one of :data:`IT_LOAD_CHOICES`. The reporting period's
    conditions are checked against the baseline's: above ``max_outside_share`` of days outside,
    ``extrapolation="refuse"`` raises and ``"flag"`` reports the saving as not verified. ``plan``
    carries the ECM, the boundary and the non-routine adjustments (each within ``compare``).

    Raises
    ------
    HistoryQueryError
        too few complete days; no baseline could be fitted; an adjustment outside the reporting
        period; the reporting period extrapolates and ``extrapolation="refuse"``.
    """
    if it_load not in IT_LOAD_CHOICES or extrapolation not in EXTRAPOLATION_CHOICES:
        raise ValueError(f"it_load in {IT_LOAD_CHOICES}, extrapolation in {EXTRAPOLATION_CHOICES}")
    for period in (baseline, compare):
        check_whole_hours(tz, *period)
    for a in plan.adjustments:
        if a.start_s < compare[0] or a.end_s > compare[1]:
            raise HistoryQueryError(
                f"non-routine adjustment {a.description!r} ({iso_day(a.start_s, tz)} to {iso_day(a.end_s, tz)}) "
                "lies outside the reporting period"
            )
    chosen = None
    for temperature in ("outdoor_wet_bulb_c", "outdoor_dry_bulb_c"):
        b = _daily(store, *baseline, temperature, tz)
        c = _daily(store, *compare, temperature, tz)
        if b[0].size >= 14 and c[0].size >= 1:
            chosen = (temperature, b, c)
            break
    if chosen is None:
        raise HistoryQueryError(
            "the baseline needs at least 14 complete days with outdoor temperature, and the compare period at least one"
        )
    temperature, (_b_start, b_fac, b_it, b_t, b_ex), (c_start, c_fac, c_it, c_t, c_ex) = chosen
    uses_it = it_load == "regressor"
    try:
        search = fit_change_point_baseline(b_fac, b_it if uses_it else None, b_t)
    except ValueError as err:
        raise HistoryQueryError(str(err)) from None
    fit, bases = search.fit, search.bases_c
    b_vars, names = _conditions(b_it if uses_it else None, b_t, bases)
    c_vars, _ = _conditions(c_it if uses_it else None, c_t, bases)
    checked = range_check(b_vars, c_vars, names)
    if extrapolation == "refuse" and checked.exceeds(max_outside_share):
        worst = ", ".join(f"{n} {s:.0%}" for n, s in zip(checked.names, checked.outside_share, strict=True) if s > 0)
        raise HistoryQueryError(
            f"the reporting period lies outside the baseline's conditions on {checked.joint_outside_share:.0%} of its "
            f"{checked.days} days (limit {max_outside_share:.0%}; {worst or 'jointly'}): the baseline model would "
            "extrapolate. Choose a baseline that spans the reporting period's conditions (a full year), or "
            "use --extrapolation flag to report it as not verified"
        )
    cdd_c = daily_degree_days(c_t, bases)
    adjustment_kwh = sum(a.kwh for a in plan.adjustments)
    adjustment_u = float(np.sqrt(sum(a.standard_uncertainty_kwh**2 for a in plan.adjustments)))
    result = verified_savings(fit, c_fac, c_it if uses_it else None, cdd_c, confidence, adjustment_kwh, adjustment_u)
    design = np.column_stack([np.ones(c_it.size), *([c_it] if uses_it else []), cdd_c])
    predicted = design @ fit.coef_
    return SavingsReport(
        baseline,
        compare,
        fit,
        result,
        temperature,
        bases,
        float(c_it.sum()),
        factor,
        int(b_ex[0] + c_ex[0]),
        tuple(predicted.tolist()),
        tuple(c_fac.tolist()),
        tuple(c_start.tolist()),
        zone_name(tz),
        range=checked,
        max_outside_share=max_outside_share,
        it_load=it_load,
        baseline_it_kwh_per_day=float(b_it.mean()),
        baseline_pue=float(b_fac.sum() / b_it.sum()),
        candidates_tried=search.candidates_tried,
        acceptance=gl14_acceptance(fit, result),
        plan=plan,
    )
