"""PUE reports an auditor can sign: period metrics with their method statement, and verified savings.

:func:`period_report` gathers, for a period: PUE per month and for the whole period with coverage,
gaps and the measurement category; the energy breakdown (IT, cooling, losses and other); PUE against
outdoor temperature; CUE and emissions with the named emission factor; the GB 40879 grade and the
national targets. :func:`savings_report` fits a regression baseline (:mod:`models.mv`) and states
the verified saving. :func:`render` draws either as PDF or HTML (matplotlib, Agg backend).

Periods are calendar periods in the site's time zone (``site.timezone``, default UTC; China sites use
Asia/Shanghai so that a month is a Beijing-time month); timestamps in exports stay UTC.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from agent.config.emission import DEFAULT_EMISSION_FACTOR, EMISSION_FACTORS_FILE, EmissionFactor, load_emission_factor
from agent.errors import HistoryQueryError, HistoryStoreError
from agent.history.records import SiteRollup
from agent.history.store import SqliteHistoryStore
from models.metrics import (
    GB40879_DEFAULT_THRESHOLDS,
    NATIONAL_PUE_TARGETS,
    IntervalSeries,
    PeriodMetrics,
    cue,
    emissions_t,
    gb40879_grade,
    period_metrics,
)
from models.mv import BaselineFit, Savings, fit_baseline, verified_savings

__all__ = [
    "DEFAULT_EMISSION_FACTOR",
    "EMISSION_FACTORS_FILE",
    "EmissionFactor",
    "PeriodReport",
    "SavingsReport",
    "load_emission_factor",
    "parse_period",
    "period_report",
    "render",
    "savings_report",
]

_CATEGORY_TEXT = {
    1: "category 1 (IT energy at the UPS output)",
    2: "category 2 (IT energy at the PDU output)",
    3: "category 3 (IT energy at the IT equipment input)",
}


# --- periods -----------------------------------------------------------------------------------
def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (an IANA name such as Asia/Shanghai, or UTC).

    Raises
    ------
    HistoryQueryError
        unknown name.
    """
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HistoryQueryError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai, or UTC)") from None


def _zone_name(tz: tzinfo) -> str:
    return "UTC" if tz is UTC else str(tz)


def _check_whole_hours(tz: tzinfo, start_s: float, end_s: float) -> None:
    """Local days and months are built from hourly rollups: the zone's offset must be whole hours."""
    for moment in (start_s, end_s):
        offset = datetime.fromtimestamp(moment, tz=tz).utcoffset()
        if offset is not None and offset.total_seconds() % 3600:
            raise HistoryQueryError(
                f"time zone {_zone_name(tz)} is {offset} from UTC, not whole hours: reports group hourly "
                "rollups into local days and months; use a whole-hour zone (or UTC) for this report"
            )


def _date(text: str, *, end: bool, tz: tzinfo = UTC) -> datetime:
    try:
        if len(text) == 4 and text.isdigit():
            start = datetime(int(text), 1, 1, tzinfo=tz)
            return start.replace(year=start.year + 1) if end else start
        if len(text) == 7 and text[4] == "-":
            start = datetime(int(text[:4]), int(text[5:]), 1, tzinfo=tz)
            return _add_month(start) if end else start
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryQueryError(
            f"not a date: {text!r} (use 2026, 2026-03, 2026-03-15 or an ISO time)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    if end and len(text) == 10:
        parsed += timedelta(days=1)  # a bare end date includes that day
    return parsed


def _add_month(moment: datetime) -> datetime:
    return (
        moment.replace(year=moment.year + 1, month=1)
        if moment.month == 12
        else moment.replace(month=moment.month + 1)
    )


def parse_period(text: str, tz: tzinfo = UTC) -> tuple[float, float]:
    """``2026`` (a year), ``2026-03`` (a month) or ``FROM..TO`` (dates; a bare TO date is included).

    Dates and times without an offset are in ``tz``; the result is epoch seconds.
    """
    if ".." in text:
        first, _, last = text.partition("..")
        start, end = _date(first.strip(), end=False, tz=tz), _date(last.strip(), end=True, tz=tz)
    else:
        start, end = _date(text.strip(), end=False, tz=tz), _date(text.strip(), end=True, tz=tz)
    if end <= start:
        raise HistoryQueryError(f"period {text!r} ends before it starts")
    return start.timestamp(), end.timestamp()


def _iso_day(epoch_s: float, tz: tzinfo = UTC) -> str:
    return datetime.fromtimestamp(epoch_s, tz=tz).strftime("%Y-%m-%d %H:%M")


def _local_days(rollups: Sequence[SiteRollup], tz: tzinfo) -> list[tuple[float, float, list[SiteRollup]]]:
    """Hourly rollups grouped by local calendar day: (day start, day length [s], its hours), in order."""
    days: dict[float, list[SiteRollup]] = {}
    for r in rollups:
        local = datetime.fromtimestamp(r.start_s, tz=tz)
        days.setdefault(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp(), []).append(r)
    out = []
    for start, hours in sorted(days.items()):
        midnight = datetime.fromtimestamp(start, tz=tz)
        following = (midnight + timedelta(days=1)).replace(hour=0, tzinfo=tz)
        out.append((start, following.timestamp() - start, hours))
    return out


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
    factor: EmissionFactor
    cue_kg_per_kwh: float | None
    emissions_t: float | None
    grade: int | None
    thresholds: tuple[float, float, float]
    methods: tuple[str, ...]
    categories: tuple[int, ...]
    sources: tuple[str, ...]
    meters: tuple[str, ...]
    min_coverage: float
    timezone: str = "UTC"


def period_report(
    store: SqliteHistoryStore,
    start_s: float,
    end_s: float,
    factor: EmissionFactor,
    *,
    site: str = "site",
    thresholds: Sequence[float] = GB40879_DEFAULT_THRESHOLDS,
    min_coverage: float = 0.95,
    meters: Sequence[str] = (),
    tz: tzinfo = UTC,
) -> PeriodReport:
    """Everything a period report states, from the hourly rollups; months and days are local to ``tz``.

    Raises
    ------
    HistoryQueryError
        no data at all in the period; a zone whose offset is not whole hours.
    """
    _check_whole_hours(tz, start_s, end_s)
    rollups = store.site_rollups(3600, start_s, end_s)
    if not rollups:
        raise HistoryQueryError(
            f"no history between {_iso_day(start_s, tz)} and {_iso_day(end_s, tz)} {_zone_name(tz)}")
    series = _series(rollups)
    total = period_metrics(series, start_s, end_s, min_coverage)
    months = []
    month = datetime.fromtimestamp(start_s, tz=tz)
    month = month.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month.timestamp() < end_s:
        following = _add_month(month)
        lo, hi = max(month.timestamp(), start_s), min(following.timestamp(), end_s)
        months.append((month.strftime("%Y-%m"), period_metrics(series, lo, hi, min_coverage)))
        month = following
    daily: list[tuple[float, float]] = []
    for _start, length_s, hours in _local_days(rollups, tz):
        temperatures = [h.conditions["outdoor_dry_bulb_c"] for h in hours if "outdoor_dry_bulb_c" in h.conditions]
        it_j = sum(h.it_j for h in hours)
        if (sum(h.covered_s for h in hours) >= 0.99 * length_s and it_j > 0
                and len(temperatures) == len(hours)):
            daily.append((sum(temperatures) / len(temperatures), sum(h.facility_j for h in hours) / it_j))
    pue = total.pue
    methods = sorted(set().union(*(r.methods for r in rollups)))
    return PeriodReport(
        site=site,
        start_s=start_s,
        end_s=end_s,
        total=total,
        months=tuple(months),
        daily_pue=tuple(daily),
        factor=factor,
        cue_kg_per_kwh=None if pue is None else cue(pue, factor.kg_co2_per_kwh),
        emissions_t=emissions_t(total.facility_kwh, factor.kg_co2_per_kwh)
        if total.facility_kwh > 0
        else None,
        grade=gb40879_grade(pue, thresholds),
        thresholds=(thresholds[0], thresholds[1], thresholds[2]),
        methods=tuple(methods),
        categories=tuple(sorted(set().union(*(r.it_categories for r in rollups)))),
        sources=tuple(sorted(set().union(*(r.sources for r in rollups)))),
        meters=tuple(meters),
        min_coverage=min_coverage,
        timezone=_zone_name(tz),
    )


def _grade_text(grade: int | None, thresholds: Sequence[float]) -> str:
    if grade is None:
        return "no grade (no valid PUE for the period)"
    if grade == 0:
        return f"above the grade 3 limit ({thresholds[2]:.2f}): does not meet GB 40879-2021"
    return f"grade {grade} (<= {thresholds[grade - 1]:.2f})"


def method_statement(report: PeriodReport) -> list[str]:
    """The lines of the method statement: boundary, meters, category, energy method, factor, gaps."""
    total = report.total
    categories = (
        ", ".join(_CATEGORY_TEXT.get(c, str(c)) for c in report.categories) or "not stated by the data"
    )
    methods = ", ".join(report.methods) or "none"
    tz = zone(report.timezone)
    lines = [
        "PUE = E_DC / E_IT, both energies over the same covered time (ISO/IEC 30134-2).",
        f"Boundary: facility = the configured facility meters; IT measured at {categories}.",
        f"Meters: {', '.join(report.meters) if report.meters else 'as configured in the site topology'}.",
        f"Energy method: {methods} (counter = the device's energy register, made monotonic across wraps "
        "and resets; integrated = trapezoidal integration of polled power; imported = from a history file).",
        f"Sources: {', '.join(report.sources)}. Periods are {report.timezone} calendar periods.",
        f"Emission factor: {report.factor.describe()}; location-based.",
        f"GB 40879-2021 thresholds used: {', '.join(f'{t:.2f}' for t in report.thresholds)} (configurable).",
        f"Coverage: {total.coverage_ratio:.2%} of the period; a PUE is withheld below "
        f"{report.min_coverage:.0%}; energies are over covered time only, never across gaps.",
    ]
    if total.gaps:
        shown = total.gaps[:12]
        lines.append(
            f"Gaps ({len(total.gaps)}): "
            + "; ".join(
                f"{_iso_day(g.start_s, tz)} to {_iso_day(g.end_s, tz)} ({g.missing_s / 3600:.1f} h)"
                for g in shown
            )
            + (" ..." if len(total.gaps) > len(shown) else "")
        )
    else:
        lines.append("Gaps: none.")
    return lines


def _reuse_lines(t: PeriodMetrics) -> list[str]:
    """Distribution pPUE, REF, ERE/ERF, WUE and per-zone pPUE where the topology meters them (nothing otherwise)."""
    lines = []
    if t.ppue_distribution is not None and t.distribution_kwh is not None:
        lines.append(f"pPUE power distribution: {t.ppue_distribution:.3f} (energy into distribution "
                     f"{t.distribution_kwh:,.0f} kWh, losses {t.distribution_kwh - t.it_kwh:,.0f} kWh)")
    if t.ref is not None and t.renewable_kwh is not None:
        lines.append(f"REF: {t.ref:.3f} (on-site renewable {t.renewable_kwh:,.0f} kWh; ISO/IEC 30134-3)")
    if t.ere is not None and t.erf is not None and t.reused_heat_kwh is not None:
        lines.append(f"ERE: {t.ere:.3f}   ERF: {t.erf:.3f} (heat reused {t.reused_heat_kwh:,.0f} kWh; "
                     "The Green Grid WP 29, ISO/IEC 30134-6)")
    if t.wue_l_per_kwh is not None and t.water_m3 is not None:
        lines.append(f"WUE: {t.wue_l_per_kwh:.2f} L/kWh_IT (site water {t.water_m3:,.1f} m3; The Green Grid WP 35)")
    for z in t.zones:
        lines.append(
            f"pPUE zone {z.zone}: {z.ppue:.3f} (IT {z.it_kwh:,.0f} kWh, overhead {z.overhead_kwh:,.0f} kWh, "
            f"coverage {z.coverage_ratio:.1%})"
            if z.ppue is not None else f"pPUE zone {z.zone}: withheld: {z.reason}")
    lines += list(t.notes)
    return lines


def summary_lines(report: PeriodReport) -> list[str]:
    t = report.total
    tz = zone(report.timezone)
    period = f"{_iso_day(report.start_s, tz)} to {_iso_day(report.end_s, tz)} {report.timezone}"
    pue_text = f"{t.pue:.3f}" if t.pue is not None else f"withheld: {t.reason}"
    lines = [
        f"Site {report.site}, {period}",
        f"PUE (energy): {pue_text}   DCiE: {t.dcie_percent:.1f} %"
        if t.dcie_percent
        else f"PUE (energy): {pue_text}",
        f"Coverage: {t.coverage_ratio:.2%}   Gaps: {len(t.gaps)}",
        f"Energy: facility {t.facility_kwh:,.0f} kWh, IT {t.it_kwh:,.0f} kWh"
        + (
            f", cooling {t.cooling_kwh:,.0f} kWh, losses and other {t.other_kwh:,.0f} kWh"
            if t.cooling_kwh is not None and t.other_kwh is not None
            else ", cooling not metered for all covered time"
        ),
    ]
    if t.ppue_cooling is not None:
        lines.append(
            f"pPUE cooling: {t.ppue_cooling:.3f}   pPUE power distribution, lighting and other: "
            f"{t.ppue_other:.3f}"
            if t.ppue_other is not None
            else f"pPUE cooling: {t.ppue_cooling:.3f}"
        )
    lines += _reuse_lines(t)
    if report.cue_kg_per_kwh is not None:
        lines.append(f"CUE: {report.cue_kg_per_kwh:.3f} kgCO2/kWh_IT")
    if report.emissions_t is not None:
        lines.append(f"Emissions: {report.emissions_t:,.1f} tCO2 (factor {report.factor.key})")
    lines.append(f"GB 40879-2021: {_grade_text(report.grade, report.thresholds)}")
    if t.pue is not None:
        lines.append(
            "National targets: "
            + ", ".join(
                f"{kind} < {limit:.2f}: {'met' if t.pue < limit else 'not met'}"
                for kind, limit in NATIONAL_PUE_TARGETS.items()
            )
        )
    return lines


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
    factor: EmissionFactor
    excluded_days: int
    daily_predicted_kwh: tuple[float, ...]
    daily_actual_kwh: tuple[float, ...]
    daily_start_s: tuple[float, ...]
    timezone: str = "UTC"

    @property
    def saved_t_co2(self) -> float:
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
    by_day = {start: hours for start, _length, hours in _local_days(store.site_rollups(3600, start_s, end_s), tz)}
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
    factor: EmissionFactor,
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
        _check_whole_hours(tz, *period)
    chosen = None
    for temperature in ("outdoor_wet_bulb_c", "outdoor_dry_bulb_c"):
        b = _daily(store, *baseline, temperature, tz)
        c = _daily(store, *compare, temperature, tz)
        if b[0].size >= 14 and c[0].size >= 1:
            chosen = (temperature, b, c)
            break
    if chosen is None:
        raise HistoryQueryError(
            "the baseline needs at least 14 complete days with outdoor temperature, and the "
            "compare period at least one"
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
        raise HistoryQueryError(
            "no cooling degree-day baseline could be fitted (too little weather variation)"
        )
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
        _zone_name(tz),
    )


def savings_lines(report: SavingsReport) -> list[str]:
    s, fit = report.savings, report.fit
    tz = zone(report.timezone)
    return [
        f"Baseline {_iso_day(report.baseline[0], tz)} to {_iso_day(report.baseline[1], tz)}; "
        f"reporting {_iso_day(report.compare[0], tz)} to {_iso_day(report.compare[1], tz)} {report.timezone}",
        f"Model (daily, OLS): facility kWh = {fit.coef_[0]:,.1f} + {fit.coef_[1]:.4f} x IT kWh + "
        + " + ".join(
            f"{c:,.1f} x CDD(base {b:g} C)" for c, b in zip(fit.coef_[2:], report.bases_c, strict=True)
        )
        + f"   [{report.temperature}]",
        f"Fit: n = {fit.n_} days, R2 = {fit.r2_:.4f}, CV(RMSE) = {fit.cv_rmse_:.2%}, "
        f"residual lag-1 autocorrelation {fit.rho_:.2f}; {report.excluded_days} incomplete day(s) excluded",
        f"Predicted baseline {s.predicted_kwh:,.0f} kWh, actual {s.actual_kwh:,.0f} kWh over {s.days} days",
        f"Verified saving: {s.saved_kwh:,.0f} +- {s.uncertainty_kwh:,.0f} kWh "
        f"at {s.confidence:.0%} confidence "
        f"(t = {s.t_value:.2f}, standard error {s.standard_error_kwh:,.0f} kWh)"
        + ("" if s.significant else "  NOT significant"),
        f"= {report.saved_t_co2:,.1f} +- {s.uncertainty_kwh * report.factor.kg_co2_per_kwh / 1000:,.1f} "
        f"tCO2 ({report.factor.key}); {report.pue_points:.4f} +- {report.pue_points_uncertainty:.4f} "
        "PUE points",
        "Method: IPMVP Option C style regression baseline adjusted to reporting-period IT load and weather; "
        "uncertainty per ASHRAE Guideline 14 (prediction of a sum, autocorrelation-corrected).",
    ]


# --- rendering ---------------------------------------------------------------------------------
def _figures(report: PeriodReport | SavingsReport) -> list[Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figures = []
    if isinstance(report, PeriodReport):
        labels = [m for m, _ in report.months]
        x = np.arange(len(labels))
        pues = [p.pue if p.pue is not None else math.nan for _, p in report.months]
        coverage = [p.coverage_ratio * 100 for _, p in report.months]
        fig = Figure(figsize=(8.27, 5.0))
        ax = fig.add_subplot()
        ax.bar(x, pues, color="#2b6cb0", label="PUE (energy)")
        ax.set_ylim(1.0, max([p for p in pues if not math.isnan(p)] + [report.thresholds[2]]) + 0.05)
        for threshold, name in zip(report.thresholds, ("grade 1", "grade 2", "grade 3"), strict=True):
            ax.axhline(threshold, linestyle="--", linewidth=1, color="#888888")
            ax.text(len(labels) - 0.5, threshold, name, va="bottom", ha="right", fontsize=8)
        ax.set_ylabel("PUE [-]")
        ax.set_title("Monthly PUE (energy) and coverage")
        twin = ax.twinx()
        twin.plot(x, coverage, color="#dd6b20", marker="o", label="coverage")
        twin.set_ylim(0, 105)
        twin.set_ylabel("coverage [%]")
        ax.set_xticks(x, labels, rotation=45)
        fig.tight_layout()
        figures.append(fig)

        fig = Figure(figsize=(8.27, 5.0))
        ax = fig.add_subplot()
        it = np.array([p.it_kwh / 1e3 for _, p in report.months])
        cool = np.array([(p.cooling_kwh or 0.0) / 1e3 for _, p in report.months])
        other = np.array(
            [max(p.facility_kwh - p.it_kwh - (p.cooling_kwh or 0.0), 0.0) / 1e3 for _, p in report.months]
        )
        ax.bar(x, it, label="IT", color="#2f855a")
        ax.bar(x, cool, bottom=it, label="cooling", color="#3182ce")
        ax.bar(x, other, bottom=it + cool, label="losses and other", color="#c05621")
        ax.set_ylabel("energy [MWh]")
        ax.set_title("Energy breakdown per month (covered time)")
        ax.legend()
        ax.set_xticks(x, labels, rotation=45)
        fig.tight_layout()
        figures.append(fig)

        fig = Figure(figsize=(8.27, 5.0))
        ax = fig.add_subplot()
        if report.daily_pue:
            temps, values = zip(*report.daily_pue, strict=True)
            ax.scatter(temps, values, s=12, color="#2b6cb0")
        else:
            ax.text(0.5, 0.5, "no complete day with outdoor temperature", ha="center", transform=ax.transAxes)
        ax.set_xlabel("daily mean outdoor dry-bulb temperature [C]")
        ax.set_ylabel("daily PUE [-]")
        ax.set_title("PUE against outdoor temperature (complete days)")
        fig.tight_layout()
        figures.append(fig)
    else:
        days: Any = [datetime.fromtimestamp(t, tz=zone(report.timezone)) for t in report.daily_start_s]
        fig = Figure(figsize=(8.27, 5.0))
        ax = fig.add_subplot()
        ax.plot(
            days, np.array(report.daily_predicted_kwh) / 1e3, label="baseline prediction", color="#c05621"
        )
        ax.plot(days, np.array(report.daily_actual_kwh) / 1e3, label="actual", color="#2b6cb0")
        ax.set_ylabel("facility energy [MWh/day]")
        ax.set_title("Reporting period: baseline prediction and actual")
        ax.legend()
        fig.autofmt_xdate()
        fig.tight_layout()
        figures.append(fig)
        fig = Figure(figsize=(8.27, 5.0))
        ax = fig.add_subplot()
        cumulative = np.cumsum(np.array(report.daily_predicted_kwh) - np.array(report.daily_actual_kwh)) / 1e3
        ax.fill_between(days, 0, cumulative, color="#2f855a", alpha=0.6)
        ax.plot(days, cumulative, color="#2f855a")
        ax.set_ylabel("cumulative avoided energy [MWh]")
        ax.set_title(
            f"Verified saving {report.savings.saved_kwh / 1e3:,.1f} +- "
            f"{report.savings.uncertainty_kwh / 1e3:,.1f} MWh"
        )
        fig.autofmt_xdate()
        fig.tight_layout()
        figures.append(fig)
    return figures


def _text_figure(title: str, lines: Sequence[str]) -> Any:
    import textwrap

    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 11.69))
    fig.text(0.06, 0.96, title, fontsize=15, weight="bold", va="top")
    y = 0.92
    for line in lines:
        table_row = line.startswith(" ")
        for part in (textwrap.wrap(line, 95) if not table_row else [line]) or [""]:
            fig.text(
                0.06,
                y,
                part,
                fontsize=8 if table_row else 9,
                va="top",
                family="DejaVu Sans Mono" if table_row else "DejaVu Sans",
            )
            y -= 0.018
        y -= 0.006
    return fig


def _month_table(report: PeriodReport) -> list[list[str]]:
    rows = [["month", "PUE", "coverage", "facility kWh", "IT kWh", "cooling kWh", "gaps"]]
    for month, m in report.months:
        rows.append(
            [
                month,
                f"{m.pue:.3f}" if m.pue is not None else "withheld",
                f"{m.coverage_ratio:.1%}",
                f"{m.facility_kwh:,.0f}",
                f"{m.it_kwh:,.0f}",
                f"{m.cooling_kwh:,.0f}" if m.cooling_kwh is not None else "-",
                str(len(m.gaps)),
            ]
        )
    return rows


def render(report: PeriodReport | SavingsReport, out: Path) -> None:
    """Write ``report`` as PDF (``.pdf``) or self-contained HTML (``.html``) with its charts.

    Raises
    ------
    HistoryQueryError
        unknown suffix.
    HistoryStoreError
        the file cannot be written.
    """
    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        raise HistoryQueryError(f"report file must end in .pdf or .html, got {out.name!r}")
    if isinstance(report, PeriodReport):
        title = f"PUE report: {report.site}"
        lines = [*summary_lines(report), "", "Method statement", *method_statement(report)]
        table = _month_table(report)
    else:
        title = "Verified savings (regression baseline)"
        lines = savings_lines(report)
        table = []
    figures = _figures(report)
    try:
        if suffix == ".pdf":
            from matplotlib.backends.backend_pdf import PdfPages

            text_lines = lines + (
                [""] + [" ".join(f"{c:>11}" for c in row) for row in table] if table else []
            )
            with PdfPages(out) as pdf:
                pdf.savefig(_text_figure(title, text_lines))
                for fig in figures:
                    pdf.savefig(fig)
        else:
            parts = [
                f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
                f"<h1>{html.escape(title)}</h1>",
            ]
            parts += [f"<p>{html.escape(line)}</p>" for line in lines if line]
            if table:
                parts.append(
                    "<table border='1' cellpadding='3'>"
                    + "".join(
                        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table
                    )
                    + "</table>"
                )
            for fig in figures:
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=90)
                parts.append(
                    f"<p><img alt='chart' src='data:image/png;base64,"
                    f"{base64.b64encode(buffer.getvalue()).decode()}'></p>"
                )
            out.write_text("\n".join(parts), encoding="utf-8")
    except OSError as err:
        raise HistoryStoreError(f"cannot write report {out}: {err.strerror or err}") from err
