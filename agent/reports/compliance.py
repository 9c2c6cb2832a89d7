"""Compliance and carbon statements of a period report: what is computed, and the lines that say it.

Compliance: the GB 40879-2021 grade is given only for a 12-month period (its electric energy ratio
RM2 is an annual figure: annual total / annual IT electricity); a shorter period is an interim figure,
labelled with its months, with no grade. National targets are dated references with their source,
tested (as worded, ``<=``) only on a 12-month period, never "met / not met" on a partial one. The
headline names the PUE category (PUE1/2/3, ISO/IEC 30134-2) and the months covered.

Carbon: :func:`models.carbon.carbon_account` on the period's energies, with the configured grid factor
and route, the green electricity and diesel entries whose dates lie within the period. Energies are
over the covered time; when coverage is below 100 % they are scaled to the whole period (stated), and
when the PUE is withheld so is the carbon figure. Without a factor there is no carbon figure.

Every user-facing string is in :data:`TEXT` (one place to translate); the ``*_lines`` functions return
lines for :mod:`agent.reports.text` and the renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Literal

from agent.config.emission import EmissionFactor, FuelFactor, load_fuel_factor
from agent.config.site import CarbonConfig, DieselEntry, GreenElectricity
from agent.config.standards import Standards, Target, load_standards
from agent.errors import HistoryQueryError
from agent.reports.periods import add_month
from models.carbon import CarbonAccount, carbon_account, fuel_kg_co2
from models.metrics import PeriodMetrics, gb40879_grade

if TYPE_CHECKING:
    from agent.reports.report import PeriodReport

__all__ = [
    "TEXT",
    "Compliance",
    "PeriodCarbon",
    "carbon_lines",
    "compliance_lines",
    "headline_line",
    "method_lines",
    "period_carbon",
    "period_compliance",
]

#: every user-facing string of this module (format fields in braces)
TEXT: dict[str, str] = {
    "category": "PUE{c}",
    "category_mixed": "PUE (mixed categories {cs})",
    "category_unknown": "PUE (category not stated by the data)",
    "category_meaning_1": "category 1: IT energy at the UPS output",
    "category_meaning_2": "category 2: IT energy at the PDU output",
    "category_meaning_3": "category 3: IT energy at the IT equipment input",
    "months": "{n} months",
    "month": "1 month",
    "days": "{n:.0f} days",
    "headline_annual": "{category} over {span} ({period}): {pue} - annual figure (RM2 = annual total / IT energy)",
    "headline_interim": "{category} over {span} ({period}): {pue} - interim figure ({span}), no grade",
    "headline_withheld": "{category} over {span} ({period}): withheld: {reason}",
    "grade": "{standard}: grade {grade} (RM2 {pue:.3f} <= {limit:.2f}; 12 months, coverage {coverage:.2%})",
    "grade_above": "{standard}: above the grade 3 limit value ({pue:.3f} > {limit:.2f}; 12 months, coverage "
    "{coverage:.2%})",
    "grade_interim": "{standard}: no grade - the grade applies to a 12-month RM2; this period covers {span}",
    "grade_withheld": "{standard}: no grade - no valid figure for the period",
    "grade_limits": "{standard} grade limits (<=): grade 1 {g1:.2f}, grade 2 {g2:.2f}, grade 3 (limit value) {g3:.2f}",
    "target_reference": "Reference: {applies_to}: PUE {comparison} {value:.2f} ({publication}, {date})",
    "target_within": "Reference: {applies_to}: PUE {comparison} {value:.2f} ({publication}, {date}): "
    "annual {pue:.3f} is within it",
    "target_above": "Reference: {applies_to}: PUE {comparison} {value:.2f} ({publication}, {date}): "
    "annual {pue:.3f} is above it",
    "target_history": "Earlier target (superseded {superseded}): {applies_to}: PUE {comparison} {value:.2f} "
    "({publication}, {date})",
    "no_factor": "Carbon: no emission factor configured - no carbon figure (set carbon.emission_factor "
    "or --emission-factor)",
    "carbon_withheld": "Carbon: withheld: {reason}",
    "cue": "CUE: {cue:.3f} kgCO2/kWh_IT ({route}-based)",
    "emissions": "Emissions: {total:,.1f} tCO2 = grid {grid:,.1f} + fuel {fuel:,.1f} ({route}-based, factor {key} "
    "{value:.4f} kgCO2/kWh)",
    "electricity": "Electricity: consumed {facility:,.0f} kWh = grid {grid:,.0f} + on-site renewable {renewable:,.0f}"
    " + generator {generator:,.0f} kWh",
    "green_market": "Contracted green electricity: {offered:,.0f} kWh, {applied:,.0f} kWh deducted before the "
    "residual factor{unused}",
    "green_location": "Contracted green electricity: {offered:,.0f} kWh (counted in REF; the location-based route "
    "charges all grid electricity at the grid average)",
    "green_unused": "; {unused:,.0f} kWh exceed the grid electricity and are not counted",
    "ref": "REF: {ref:.3f} (on-site renewable {renewable:,.0f} kWh + contracted green {green:,.0f} kWh, {cite})",
    "diesel": "Diesel: {litres:,.0f} L x {per_litre:.4f} kgCO2/L = {t:,.2f} tCO2 ({key})",
    "scaled": "Energies scaled from {coverage:.2%} covered time to the whole period for tCO2 "
    "(CUE and REF are ratios over the covered time)",
    "not_counted": "Not counted ({what} {ids}, {start} to {end}): it straddles the report period; split the entry",
    "method_pue": "PUE = E_DC / E_IT, both over the same covered time ({cite}; replaces {replaces}).",
    "method_grade": "{standard} ({issued}, effective {effective}): {metric}. Graded only over {months} months.",
    "method_carbon_location": "Carbon, location-based: all grid electricity x the grid average factor {factor}; "
    "on-site renewable electricity is not charged.",
    "method_carbon_market": "Carbon, market-based: (grid electricity - contracted green electricity) x the residual "
    "factor {factor}; on-site renewable electricity is not charged.",
    "method_fuel": "Fuel: {fuel}.",
    "method_no_factor": "Carbon: no emission factor configured (there is no default factor).",
    "renewable_withheld": "the on-site renewable meter was not complete over the covered time (it would be "
    "charged as grid electricity)",
    "pue_withheld": "no valid PUE for the period ({reason})",
    "route_mismatch": "factor {key} is a {factor_route} factor; the configured route is {route}",
    "no_renewable": "No on-site renewable meter in the data: all consumption is charged as grid electricity",
}

_CATEGORY_MEANING = {1: "category_meaning_1", 2: "category_meaning_2", 3: "category_meaning_3"}


# --- compliance --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Compliance:
    """The compliance facts of a period: PUE category, span, whether it is a 12-month (annual) figure,
    the grade (annual only) and the targets as references."""

    categories: tuple[int, ...]
    whole_months: int
    aligned: bool
    days: float
    annual: bool
    grade: int | None
    standards: Standards


def _span_months(start_s: float, end_s: float, tz: tzinfo) -> tuple[int, bool]:
    """Whole calendar months from ``start_s`` to ``end_s`` and whether both fall on local month starts."""
    start = datetime.fromtimestamp(start_s, tz=tz)
    first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    aligned = first == start
    n = 0
    cursor = first if aligned else add_month(first)
    while True:
        following = add_month(cursor)
        if following.timestamp() > end_s + 1e-6:
            break
        n += 1
        cursor = following
    return n, aligned and abs(cursor.timestamp() - end_s) <= 1e-6


def period_compliance(
    total: PeriodMetrics, start_s: float, end_s: float, tz: tzinfo, categories: Sequence[int]
) -> Compliance:
    """Category, span and grade of ``[start_s, end_s)``: the grade only on exactly 12 local calendar months."""
    standards = load_standards()
    months, aligned = _span_months(start_s, end_s, tz)
    annual = aligned and months == standards.grade.period_months and total.pue is not None
    return Compliance(
        categories=tuple(categories),
        whole_months=months,
        aligned=aligned,
        days=(end_s - start_s) / 86400.0,
        annual=annual,
        grade=gb40879_grade(total.pue, standards.grade.limits) if annual else None,
        standards=standards,
    )


def _category_label(categories: Sequence[int]) -> str:
    if len(categories) == 1:
        return TEXT["category"].format(c=categories[0])
    if not categories:
        return TEXT["category_unknown"]
    return TEXT["category_mixed"].format(cs=", ".join(str(c) for c in categories))


def _span_label(c: Compliance) -> str:
    if c.aligned:
        return TEXT["month"] if c.whole_months == 1 else TEXT["months"].format(n=c.whole_months)
    return TEXT["days"].format(n=c.days)


def headline_line(report: PeriodReport, period: str) -> str:
    """The first line an auditor reads: category, months covered, the figure and whether it is annual."""
    c, t = report.compliance, report.total
    fields = {"category": _category_label(c.categories), "span": _span_label(c), "period": period}
    if t.pue is None:
        return TEXT["headline_withheld"].format(**fields, reason=t.reason)
    key = "headline_annual" if c.annual else "headline_interim"
    return TEXT[key].format(**fields, pue=f"{t.pue:.3f}")


def _target_line(target: Target, c: Compliance, pue: float | None) -> str:
    fields = {
        "applies_to": target.applies_to,
        "comparison": target.comparison,
        "value": target.value,
        "publication": target.publication,
        "date": target.date,
    }
    if c.annual and pue is not None:
        return TEXT["target_within" if target.holds(pue) else "target_above"].format(**fields, pue=pue)
    return TEXT["target_reference"].format(**fields)


def compliance_lines(report: PeriodReport) -> list[str]:
    """The grade (12-month periods only) and the targets as dated references."""
    c, pue, coverage = report.compliance, report.total.pue, report.total.coverage_ratio
    table = c.standards.grade
    standard = table.cite
    if pue is None:
        lines = [TEXT["grade_withheld"].format(standard=standard)]
    elif not c.annual:
        lines = [TEXT["grade_interim"].format(standard=standard, span=_span_label(c))]
    elif c.grade == 0:
        lines = [TEXT["grade_above"].format(standard=standard, pue=pue, limit=table.limits[2], coverage=coverage)]
    else:
        assert c.grade is not None
        limit = table.limits[c.grade - 1]
        lines = [TEXT["grade"].format(standard=standard, grade=c.grade, pue=pue, limit=limit, coverage=coverage)]
    lines.append(
        TEXT["grade_limits"].format(standard=standard, g1=table.limits[0], g2=table.limits[1], g3=table.limits[2])
    )
    lines += [_target_line(t, c, pue) for t in c.standards.current_targets]
    lines += [
        TEXT["target_history"].format(
            superseded=t.superseded,
            applies_to=t.applies_to,
            comparison=t.comparison,
            value=t.value,
            publication=t.publication,
            date=t.date,
        )
        for t in c.standards.superseded_targets
    ]
    return lines


# --- carbon ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeriodCarbon:
    """The carbon of a period: the account (None when withheld or no factor) and how it was reached."""

    factor: EmissionFactor | None
    route: Literal["location", "market"]
    account: CarbonAccount | None
    reason: str | None
    fuel: FuelFactor | None = None
    diesel_litres: float = 0.0
    diesel_kg_co2_per_litre: float | None = None
    green_ids: tuple[str, ...] = ()
    coverage_ratio: float = 1.0
    notes: tuple[str, ...] = ()

    @property
    def scaled(self) -> bool:
        return self.coverage_ratio < 1.0 - 1e-9


def _local_epoch(day: date, tz: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def period_carbon(
    total: PeriodMetrics,
    start_s: float,
    end_s: float,
    tz: tzinfo,
    factor: EmissionFactor | None,
    carbon: CarbonConfig | None,
    renewable_metered: bool,
) -> PeriodCarbon:
    """The carbon account of ``[start_s, end_s)`` from the period's metrics and the carbon config.

    Raises
    ------
    HistoryQueryError
        a factor whose route differs from the configured route (or a fossil-only factor).
    """
    route: Literal["location", "market"] = carbon.route if carbon is not None else "location"
    if factor is None:
        return PeriodCarbon(None, route, None, TEXT["no_factor"])
    if carbon is None and factor.route == "market":
        route = "market"
    if factor.route != route:
        raise HistoryQueryError(TEXT["route_mismatch"].format(key=factor.key, factor_route=factor.route, route=route))
    if total.pue is None:
        return PeriodCarbon(factor, route, None, TEXT["pue_withheld"].format(reason=total.reason))
    if renewable_metered and total.renewable_kwh is None:
        return PeriodCarbon(factor, route, None, TEXT["renewable_withheld"])
    notes: list[str] = [] if renewable_metered else [TEXT["no_renewable"]]

    def counted(what: str, entry: GreenElectricity | DieselEntry, ids: str) -> bool:
        lo, hi = _local_epoch(entry.start, tz), _local_epoch(entry.end, tz)
        if hi <= start_s or lo >= end_s:
            return False
        if lo < start_s or hi > end_s:
            notes.append(TEXT["not_counted"].format(what=what, ids=ids, start=entry.start, end=entry.end))
            return False
        return True

    green = [g for g in (carbon.green_electricity if carbon else ()) if counted("green", g, ", ".join(g.ids))]
    diesel = [d for d in (carbon.diesel if carbon else ()) if counted("diesel", d, "")]
    green_kwh = sum(g.kwh for g in green)
    green_ids = [i for g in green for i in g.ids]
    litres = sum(d.litres for d in diesel)
    generated_kwh = sum(d.generated_kwh or 0.0 for d in diesel)
    fuel = load_fuel_factor(carbon.fuel_factor) if carbon is not None and carbon.fuel_factor else None
    per_litre = fuel.kg_co2_per_litre(carbon.diesel_density_kg_per_l) if fuel is not None and carbon else None
    scale = 1.0 / total.coverage_ratio if total.coverage_ratio > 0 else 1.0
    account = carbon_account(
        facility_kwh=total.facility_kwh * scale,
        it_kwh=total.it_kwh * scale,
        grid_factor_kg_per_kwh=factor.kg_co2_per_kwh,
        route=route,
        onsite_renewable_kwh=(total.renewable_kwh or 0.0) * scale,
        onsite_generator_kwh=generated_kwh,
        contracted_green_kwh=green_kwh,
        fuel_co2_kg=fuel_kg_co2(litres, per_litre) if per_litre is not None else 0.0,
    )
    return PeriodCarbon(
        factor,
        route,
        account,
        None,
        fuel,
        litres,
        per_litre,
        tuple(green_ids),
        total.coverage_ratio,
        tuple(notes),
    )


def carbon_lines(report: PeriodReport) -> list[str]:
    """CUE, tCO2 with its parts, the electricity balance, green electricity, REF and diesel; or why none."""
    pc = report.carbon
    if pc.factor is None:
        return [TEXT["no_factor"]]
    if pc.account is None:
        return [TEXT["carbon_withheld"].format(reason=pc.reason)]
    a = pc.account
    lines = []
    if a.cue_kg_per_kwh is not None:
        lines.append(TEXT["cue"].format(cue=a.cue_kg_per_kwh, route=a.route))
    lines.append(
        TEXT["emissions"].format(
            total=a.total_t_co2,
            grid=a.grid_t_co2,
            fuel=a.fuel_t_co2,
            route=a.route,
            key=pc.factor.key,
            value=pc.factor.kg_co2_per_kwh,
        )
    )
    lines.append(
        TEXT["electricity"].format(
            facility=a.facility_kwh, grid=a.grid_kwh, renewable=a.onsite_renewable_kwh, generator=a.onsite_generator_kwh
        )
    )
    if a.contracted_green_kwh > 0:
        unused = TEXT["green_unused"].format(unused=a.green_unused_kwh) if a.green_unused_kwh > 0 else ""
        if a.route == "market":
            lines.append(
                TEXT["green_market"].format(offered=a.contracted_green_kwh, applied=a.green_applied_kwh, unused=unused)
            )
        else:
            lines.append(TEXT["green_location"].format(offered=a.contracted_green_kwh) + unused)
    if a.ref is not None and (a.onsite_renewable_kwh > 0 or a.green_applied_kwh > 0):
        lines.append(
            TEXT["ref"].format(
                ref=a.ref,
                renewable=a.onsite_renewable_kwh,
                green=a.green_applied_kwh,
                cite=report.compliance.standards.ref_cite,
            )
        )
    if pc.diesel_litres > 0 and pc.fuel is not None and pc.diesel_kg_co2_per_litre is not None:
        lines.append(
            TEXT["diesel"].format(
                litres=pc.diesel_litres, per_litre=pc.diesel_kg_co2_per_litre, t=a.fuel_t_co2, key=pc.fuel.key
            )
        )
    if pc.scaled:
        lines.append(TEXT["scaled"].format(coverage=pc.coverage_ratio))
    return lines + list(pc.notes)


def method_lines(report: PeriodReport) -> list[str]:
    """The method statement's compliance and carbon lines: the standards cited, factor and route."""
    st = report.compliance.standards
    g = st.grade
    lines = [
        TEXT["method_pue"].format(cite=st.pue_cite, replaces=st.pue_replaces),
        *[TEXT[_CATEGORY_MEANING[c]] + "." for c in report.compliance.categories if c in _CATEGORY_MEANING],
        TEXT["method_grade"].format(
            standard=g.cite, issued=g.issued, effective=g.effective, metric=g.metric, months=g.period_months
        ),
    ]
    pc = report.carbon
    if pc.factor is None:
        lines.append(TEXT["method_no_factor"])
    else:
        key = "method_carbon_market" if pc.route == "market" else "method_carbon_location"
        lines.append(TEXT[key].format(factor=pc.factor.describe()))
    if pc.fuel is not None:
        lines.append(TEXT["method_fuel"].format(fuel=pc.fuel.describe()))
    return lines
