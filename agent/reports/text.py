"""The reports as text: summary lines, the method statement an auditor signs, the avoided-energy (M&V) lines."""

from __future__ import annotations

from agent.reports.compliance import carbon_lines, compliance_lines, headline_line, method_lines
from agent.reports.periods import iso_day, zone
from agent.reports.report import PeriodReport, SavingsReport
from models.metrics import PeriodMetrics
from models.mv_acceptance import GL14_FSU_CONFIDENCE, GL14_FSU_LIMIT, GL14_LIMITS

__all__ = ["method_statement", "savings_lines", "summary_lines"]


def method_statement(report: PeriodReport) -> list[str]:
    """The lines of the method statement: boundary, meters, category, energy method, factor, gaps."""
    total = report.total
    methods = ", ".join(report.methods) or "none"
    tz = zone(report.timezone)
    lines = [
        *method_lines(report),
        "Boundary: facility = the configured facility meters; IT as the category above.",
        f"Meters: {', '.join(report.meters) if report.meters else 'as configured in the site topology'}.",
        f"Energy method: {methods} (counter = the device's energy register, made monotonic across wraps "
        "and resets; integrated = trapezoidal integration of polled power; imported = from a history file).",
        f"Sources: {', '.join(report.sources)}. Periods are {report.timezone} calendar periods.",
        f"Coverage: {total.coverage_ratio:.2%} of the period; a PUE is withheld below "
        f"{report.min_coverage:.0%}; energies are over covered time only, never across gaps.",
    ]
    if total.gaps:
        shown = total.gaps[:12]
        lines.append(
            f"Gaps ({len(total.gaps)}): "
            + "; ".join(
                f"{iso_day(g.start_s, tz)} to {iso_day(g.end_s, tz)} ({g.missing_s / 3600:.1f} h)" for g in shown
            )
            + (" ..." if len(total.gaps) > len(shown) else "")
        )
    else:
        lines.append("Gaps: none.")
    return lines


def _reuse_lines(t: PeriodMetrics, ref_with_carbon: bool = False) -> list[str]:
    """Distribution pPUE, REF, ERE/ERF, WUE and per-zone pPUE where the topology meters them (nothing otherwise).

    ``ref_with_carbon``: REF is stated with the carbon lines instead (certificates included).
    """
    lines = []
    if t.ppue_distribution is not None and t.distribution_kwh is not None:
        lines.append(
            f"pPUE power distribution: {t.ppue_distribution:.3f} (energy into distribution "
            f"{t.distribution_kwh:,.0f} kWh, losses {t.distribution_kwh - t.it_kwh:,.0f} kWh)"
        )
    if t.ref is not None and t.renewable_kwh is not None and not ref_with_carbon:
        lines.append(f"REF: {t.ref:.3f} (on-site renewable {t.renewable_kwh:,.0f} kWh; ISO/IEC 30134-3)")
    if t.ere is not None and t.erf is not None and t.reused_heat_kwh is not None:
        lines.append(
            f"ERE: {t.ere:.3f}   ERF: {t.erf:.3f} (heat reused {t.reused_heat_kwh:,.0f} kWh; "
            "The Green Grid WP 29, ISO/IEC 30134-6)"
        )
    if t.wue_l_per_kwh is not None and t.water_m3 is not None:
        lines.append(f"WUE: {t.wue_l_per_kwh:.2f} L/kWh_IT (site water {t.water_m3:,.1f} m3; The Green Grid WP 35)")
    for z in t.zones:
        lines.append(
            f"pPUE zone {z.zone}: {z.ppue:.3f} (IT {z.it_kwh:,.0f} kWh, overhead {z.overhead_kwh:,.0f} kWh, "
            f"coverage {z.coverage_ratio:.1%})"
            if z.ppue is not None
            else f"pPUE zone {z.zone}: withheld: {z.reason}"
        )
    lines += list(t.notes)
    return lines


def summary_lines(report: PeriodReport) -> list[str]:
    t = report.total
    tz = zone(report.timezone)
    period = f"{iso_day(report.start_s, tz)} to {iso_day(report.end_s, tz)} {report.timezone}"
    lines = [
        f"Site {report.site}, {period}",
        headline_line(report, period) + (f"   DCiE: {t.dcie_percent:.1f} %" if t.dcie_percent else ""),
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
            f"pPUE cooling: {t.ppue_cooling:.3f}   pPUE power distribution, lighting and other: {t.ppue_other:.3f}"
            if t.ppue_other is not None
            else f"pPUE cooling: {t.ppue_cooling:.3f}"
        )
    lines += _reuse_lines(t, ref_with_carbon=report.carbon.account is not None)
    lines += compliance_lines(report)
    lines += carbon_lines(report)
    return lines


_IT_LOAD_TEXT = {
    "regressor": (
        "IT energy normalisation: IT kWh/d is an independent variable (the baseline is adjusted to each reporting "
        "day's IT load). A change of IT energy caused by the measure itself (e.g. server fans at a warmer supply "
        "air) is credited as saving at {rate:.3f} kWh per kWh: use --it-load static when the measure can change IT "
        "energy."
    ),
    "static": (
        "IT energy normalisation: none, IT load held static (no IT term): the measure's effect on IT energy counts "
        "in the saving. A change of IT load not caused by the measure needs a non-routine adjustment."
    ),
}


def _plan_lines(report: SavingsReport) -> list[str]:
    plan, tz = report.plan, zone(report.timezone)
    lines = [
        f"ECM: {plan.ecm or 'not stated (give --ecm or ecm: in --mv-plan)'}",
        f"Measurement boundary: {plan.boundary or 'not stated (give --boundary or boundary: in --mv-plan)'}; "
        "facility energy as metered for the site (IPMVP Option C, whole facility).",
    ]
    if plan.adjustments:
        total = report.savings.adjustment_kwh
        lines.append(f"Non-routine adjustments (added to the adjusted baseline): {total:+,.0f} kWh")
        lines += [
            f"- {iso_day(a.start_s, tz)} to {iso_day(a.end_s, tz)}: {a.kwh:+,.0f} kWh"
            + (f" (standard uncertainty {a.standard_uncertainty_kwh:,.0f} kWh)" if a.standard_uncertainty_kwh else "")
            + f": {a.description}"
            for a in plan.adjustments
        ]
    else:
        lines.append("Non-routine adjustments: none entered.")
    return lines


def _range_lines(report: SavingsReport) -> list[str]:
    r = report.range
    if r is None:
        return []
    per_variable = "; ".join(
        f"{name} {share:.0%} (baseline {lo:,.1f} to {hi:,.1f})"
        for name, share, lo, hi in zip(r.names, r.outside_share, r.baseline_min, r.baseline_max, strict=True)
    )
    verdict = (
        f"EXTRAPOLATED: above the {report.max_outside_share:.0%} limit, the baseline model does not cover these "
        "conditions"
        if report.extrapolated
        else f"within the {report.max_outside_share:.0%} limit"
    )
    return [
        f"Range check: {r.joint_outside_share:.1%} of the {r.days} reporting days lie outside the baseline's "
        f"conditions (any variable out of range, or leverage above the baseline's largest): {verdict}",
        f"Outside the baseline's range, per variable: {per_variable}",
    ]


def _gl14_lines(report: SavingsReport) -> list[str]:
    a = report.acceptance
    if a is None:
        return []
    monthly, hourly = GL14_LIMITS["monthly"], GL14_LIMITS["hourly"]
    fsu = "n/a (no saving)" if a.fsu is None else f"{a.fsu:.1%} at {a.confidence:.0%}"
    fsu68 = "n/a" if a.fsu_68 is None else f"{a.fsu_68:.1%}"
    return [
        f"ASHRAE Guideline 14: NMBE {a.nmbe:+.3%} (limit +-{a.nmbe_limit:.0%}), CV(RMSE) {a.cv_rmse:.2%} "
        f"(limit {a.cv_rmse_limit:.0%}): {'PASS' if a.model_passes else 'FAIL'}; "
        f"FSU {fsu}, {fsu68} at {GL14_FSU_CONFIDENCE:.0%} (limit {GL14_FSU_LIMIT:.0%} at "
        f"{GL14_FSU_CONFIDENCE:.0%}): {'PASS' if a.fsu_passes else 'FAIL'}",
        f"Limits (ASHRAE Guideline 14-2014): monthly data NMBE +-{monthly[0]:g} %, CV(RMSE) {monthly[1]:g} %; "
        f"hourly data +-{hourly[0]:g} %, {hourly[1]:g} %; this daily model is judged by the {a.resolution} pair. "
        "NMBE and CV(RMSE) with n - p in the denominator.",
    ]


def savings_lines(report: SavingsReport) -> list[str]:
    """The avoided-energy statement: periods, plan, model, guards, the figure and its uncertainty, the method."""
    s, fit = report.savings, report.fit
    tz = zone(report.timezone)
    it_term = f" + {fit.coef_[1]:.4f} x IT kWh" if fit.uses_it else ""
    cdd_coef = fit.coef_[2:] if fit.uses_it else fit.coef_[1:]
    status = ("" if s.significant else "  NOT significant") + (
        "  NOT VERIFIED: the reporting period lies outside the baseline's conditions" if report.extrapolated else ""
    )
    it_change = report.compare_it_kwh_per_day - report.baseline_it_kwh_per_day
    it_note = (
        f"; at the baseline's PUE {report.baseline_pue:.3f} that is {it_change * s.days * report.baseline_pue:+,.0f} "
        "kWh of facility energy, to enter as a non-routine adjustment if the measure did not cause it"
        if not fit.uses_it
        else ""
    )
    return [
        f"Baseline {iso_day(report.baseline[0], tz)} to {iso_day(report.baseline[1], tz)}; "
        f"reporting {iso_day(report.compare[0], tz)} to {iso_day(report.compare[1], tz)} {report.timezone}",
        *_plan_lines(report),
        f"Model (daily, OLS): facility kWh = {fit.coef_[0]:,.1f}{it_term} + "
        + " + ".join(f"{c:,.1f} x CDD(base {b:g} C)" for c, b in zip(cdd_coef, report.bases_c, strict=True))
        + f"   [{report.temperature}]",
        f"Fit: n = {fit.n_} days, p = {fit.n_params_} ({len(fit.coef_)} coefficients + {fit.selection_params_} "
        f"balance point(s) chosen among {report.candidates_tried} change-point models), R2 = {fit.r2_:.4f}, "
        f"residual lag-1 autocorrelation {fit.rho_:.2f}; {report.excluded_days} incomplete day(s) excluded",
        _IT_LOAD_TEXT[report.it_load].format(rate=fit.coef_[1] if fit.uses_it else 0.0),
        f"IT energy: baseline {report.baseline_it_kwh_per_day:,.0f} kWh/d, reporting "
        f"{report.compare_it_kwh_per_day:,.0f} kWh/d ({it_change:+,.0f} kWh/d, "
        f"{it_change / report.baseline_it_kwh_per_day:+.2%}){it_note}",
        *_range_lines(report),
        *_gl14_lines(report),
        f"Adjusted baseline {s.predicted_kwh + s.adjustment_kwh:,.0f} kWh (model {s.predicted_kwh:,.0f}"
        f"{f', adjustments {s.adjustment_kwh:+,.0f}' if s.adjustment_kwh else ''}), actual {s.actual_kwh:,.0f} kWh "
        f"over {s.days} days",
        f"Avoided energy: {s.saved_kwh:,.0f} +- {s.uncertainty_kwh:,.0f} kWh "
        f"at {s.confidence:.0%} confidence "
        f"(t = {s.t_value:.2f} with {s.dof_effective:.1f} effective degrees of freedom, standard error "
        f"{s.standard_error_kwh:,.0f} kWh)" + status,
        (
            f"= {report.saved_t_co2:,.1f} +- {s.uncertainty_kwh * report.factor.kg_co2_per_kwh / 1000:,.1f} "
            f"tCO2 ({report.factor.key}); "
            if report.factor is not None and report.saved_t_co2 is not None
            else "= no tCO2 figure (no emission factor configured); "
        )
        + f"{report.pue_points:.4f} +- {report.pue_points_uncertainty:.4f} PUE points",
        "Method: IPMVP Option C (whole facility) regression baseline adjusted to the reporting period's "
        "conditions: the figure is avoided energy (reporting-period basis), not normalised savings (fixed "
        "conditions). Uncertainty per ASHRAE Guideline 14 Annex B (prediction of a sum, autocorrelation-corrected, "
        "balance points counted as parameters).",
    ]
