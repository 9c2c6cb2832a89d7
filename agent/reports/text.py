"""The reports as text: summary lines, the method statement an auditor signs, the verified-savings lines."""

from __future__ import annotations

from agent.reports.compliance import carbon_lines, compliance_lines, headline_line, method_lines
from agent.reports.periods import iso_day, zone
from agent.reports.report import PeriodReport, SavingsReport
from models.metrics import PeriodMetrics

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


def savings_lines(report: SavingsReport) -> list[str]:
    s, fit = report.savings, report.fit
    tz = zone(report.timezone)
    return [
        f"Baseline {iso_day(report.baseline[0], tz)} to {iso_day(report.baseline[1], tz)}; "
        f"reporting {iso_day(report.compare[0], tz)} to {iso_day(report.compare[1], tz)} {report.timezone}",
        f"Model (daily, OLS): facility kWh = {fit.coef_[0]:,.1f} + {fit.coef_[1]:.4f} x IT kWh + "
        + " + ".join(f"{c:,.1f} x CDD(base {b:g} C)" for c, b in zip(fit.coef_[2:], report.bases_c, strict=True))
        + f"   [{report.temperature}]",
        f"Fit: n = {fit.n_} days, R2 = {fit.r2_:.4f}, CV(RMSE) = {fit.cv_rmse_:.2%}, "
        f"residual lag-1 autocorrelation {fit.rho_:.2f}; {report.excluded_days} incomplete day(s) excluded",
        f"Predicted baseline {s.predicted_kwh:,.0f} kWh, actual {s.actual_kwh:,.0f} kWh over {s.days} days",
        f"Verified saving: {s.saved_kwh:,.0f} +- {s.uncertainty_kwh:,.0f} kWh "
        f"at {s.confidence:.0%} confidence "
        f"(t = {s.t_value:.2f}, standard error {s.standard_error_kwh:,.0f} kWh)"
        + ("" if s.significant else "  NOT significant"),
        (
            f"= {report.saved_t_co2:,.1f} +- {s.uncertainty_kwh * report.factor.kg_co2_per_kwh / 1000:,.1f} "
            f"tCO2 ({report.factor.key}); "
            if report.factor is not None and report.saved_t_co2 is not None
            else "= no tCO2 figure (no emission factor configured); "
        )
        + f"{report.pue_points:.4f} +- {report.pue_points_uncertainty:.4f} PUE points",
        "Method: IPMVP Option C style regression baseline adjusted to reporting-period IT load and weather; "
        "uncertainty per ASHRAE Guideline 14 (prediction of a sum, autocorrelation-corrected).",
    ]
