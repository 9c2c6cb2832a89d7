"""PUE reports an auditor can sign: period metrics with their method statement, and verified savings.

:func:`period_report` gathers, for a period: PUE per month and for the whole period with coverage,
gaps and the measurement category; the energy breakdown (IT, cooling, losses and other); PUE against
outdoor temperature; carbon and compliance (:mod:`agent.reports.compliance`: CUE, tCO2 and REF with
the configured factor, route, green electricity and diesel; the GB 40879 grade on 12-month periods only,
targets as dated references). :func:`savings_report` fits a regression baseline (:mod:`models.mv`) and states
the verified saving. Both are computed here; :mod:`agent.reports.text` writes them as text and
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
from agent.history.records import SiteRollup
from agent.history.store import SqliteHistoryStore
from agent.reports.compliance import Compliance, PeriodCarbon, period_carbon, period_compliance
from agent.reports.periods import add_month, check_whole_hours, iso_day, local_days, zone_name
from models.metrics import IntervalSeries, PeriodMetrics, gb40879_grade, period_metrics
from models.mv import BaselineFit, Savings, fit_baseline, verified_savings

__all__ = [
    "EMISSION_FACTORS_FILE",
    "EmissionFactor",
    "PeriodReport",
    "SavingsReport",
    "load_emission_factor",
    "period_report",
    "savings_report",
]


def _series(rollups: Sequence[SiteRollup]) -> IntervalSeries:
    return IntervalSeries.from_arrays(
        [r.start_s for r in rollups],
        [float(r.resolution_s) for r in rollups],
        [r.covered_s for r in rollups],
        [r.facility_j for r in rollups],
        [r.it_j for r in rollups],
        [r.cooling_covered_s for r in rollups],
        [r.cooling_j for r in rollups],
        _term_arrays(rollups),
    )


def _term_arrays(rollups: Sequence[SiteRollup]) -> dict[str, tuple[list[float], list[float]]]:
    """Optional boundaries as arrays over ``rollups``; a bucket without a term has none of it covered."""
    names = sorted({name for r in rollups for name in r.terms})
    return {
        name: ([r.terms.get(name, (0.0, 0.0))[0] for r in rollups], [r.terms.get(name, (0.0, 0.0))[1] for r in rollups])
        for name in names
    }


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
    store: SqliteHistoryStore,
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
    rollups = store.site_rollups(3600, start_s, end_s)
    if not rollups:
        raise HistoryQueryError(f"no history between {iso_day(start_s, tz)} and {iso_day(end_s, tz)} {zone_name(tz)}")
    series = _series(rollups)
    total = period_metrics(series, start_s, end_s, min_coverage)
    months = []
    month = datetime.fromtimestamp(start_s, tz=tz)
    month = month.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month.timestamp() < end_s:
        following = add_month(month)
        lo, hi = max(month.timestamp(), start_s), min(following.timestamp(), end_s)
        months.append((month.strftime("%Y-%m"), period_metrics(series, lo, hi, min_coverage)))
        month = following
    daily: list[tuple[float, float]] = []
    for _start, length_s, hours in local_days(rollups, tz):
        temperatures = [h.conditions["outdoor_dry_bulb_c"] for h in hours if "outdoor_dry_bulb_c" in h.conditions]
        it_j = sum(h.it_j for h in hours)
        if sum(h.covered_s for h in hours) >= 0.99 * length_s and it_j > 0 and len(temperatures) == len(hours):
            daily.append((sum(temperatures) / len(temperatures), sum(h.facility_j for h in hours) / it_j))
    methods = sorted(set().union(*(r.methods for r in rollups)))
    categories = tuple(sorted(set().union(*(r.it_categories for r in rollups))))
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
        sources=tuple(sorted(set().union(*(r.sources for r in rollups)))),
        meters=tuple(meters),
        min_coverage=min_coverage,
        carbon=carbon_result,
        compliance=compliance,
        timezone=zone_name(tz),
    )


# --- savings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SavingsReport:
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
    store: SqliteHistoryStore, start_s: float, end_s: float, temperature: str, tz: tzinfo = UTC
) -> tuple[np.ndarray[Any, Any], ...]:
    """Complete local days (24 covered hours with ``temperature``): start, facility kWh, IT kWh, hourly
    temperatures (days x 24); and the number of days excluded (gaps; 23- or 25-hour DST days too)."""
    by_day = {start: hours for start, _length, hours in local_days(store.site_rollups(3600, start_s, end_s), tz)}
    starts, fac, it, temps = [], [], [], []
    excluded = 0
    day = datetime.fromtimestamp(start_s, tz=tz).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() < end_s:
        rows = by_day.get(day.timestamp(), [])
        day_s = day.timestamp()
        day = (day + timedelta(days=1)).replace(hour=0, tzinfo=tz)
        ok = len(rows) == 24 and all(r.covered_s >= 3600 - 1e-6 and temperature in r.conditions for r in rows)
        if not ok:
            excluded += 1
            continue
        starts.append(day_s)
        fac.append(sum(r.facility_j for r in rows) / 3.6e6)
        it.append(sum(r.it_j for r in rows) / 3.6e6)
        temps.append([r.conditions[temperature] for r in rows])
    return (
        np.array(starts, dtype=float),
        np.array(fac),
        np.array(it),
        np.array(temps).reshape(-1, 24),
        np.array([excluded]),
    )


def _cdd(temps: np.ndarray[Any, Any], bases: Sequence[float]) -> np.ndarray[Any, Any]:
    return np.column_stack([np.maximum(temps - b, 0.0).sum(axis=1) / 24.0 for b in bases])


def savings_report(
    store: SqliteHistoryStore,
    baseline: tuple[float, float],
    compare: tuple[float, float],
    factor: EmissionFactor | None,
    confidence: float = 0.90,
    tz: tzinfo = UTC,
) -> SavingsReport:
    """Fit facility kWh/d ~ IT kWh/d + cooling degree-days on ``baseline``; state the saving on ``compare``.

    Only complete days (24 covered hours with outdoor temperature) are used; the number excluded is
    reported. The temperature is the outdoor wet bulb when every day has it (cooling towers and
    economizers follow it), the dry bulb otherwise; the balance points are chosen on the baseline
    (change-point search over one or two bases, lowest residual standard error).
    """
    for period in (baseline, compare):
        check_whole_hours(tz, *period)
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
    candidates: list[tuple[float, ...]] = [(float(x),) for x in range(0, 26)] + [
        (float(x), float(y)) for x in range(0, 22, 2) for y in range(x + 4, 26, 2)
    ]
    best: tuple[float, tuple[float, ...], BaselineFit] | None = None
    for bases in candidates:
        cdd = _cdd(b_t, bases)
        if np.any(cdd.sum(axis=0) <= 0):
            continue
        try:
            fit = fit_baseline(b_fac, b_it, cdd, [f"cdd_{base:g}c" for base in bases])
        except ValueError:
            continue
        if best is None or fit.sigma_kwh_ < best[0]:
            best = (fit.sigma_kwh_, tuple(float(x) for x in bases), fit)
    if best is None:
        raise HistoryQueryError("no cooling degree-day baseline could be fitted (too little weather variation)")
    _, bases, fit = best
    cdd_c = _cdd(c_t, bases)
    result = verified_savings(fit, c_fac, c_it, cdd_c, confidence)
    predicted = np.column_stack([np.ones(c_it.size), c_it, cdd_c]) @ fit.coef_
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
    )
