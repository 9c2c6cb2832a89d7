"""The reports as text: summary lines, the method statement an auditor signs, the avoided-energy (M&V) lines."""

from __future__ import annotations

from agent.reports.compliance import carbon_lines, compliance_lines, headline_line, method_lines
from agent.reports.i18n import tr
from agent.reports.periods import iso_day, zone
from agent.reports.report import PeriodReport, SavingsReport
from models.metrics import PeriodMetrics
from models.mv_acceptance import GL14_FSU_CONFIDENCE, GL14_FSU_LIMIT, GL14_LIMITS

__all__ = ["method_statement", "savings_lines", "summary_lines"]


def method_statement(report: PeriodReport, lang: str = "en") -> list[str]:
    """The lines of the method statement: boundary, meters, category, energy method, factor, gaps."""
    total = report.total
    tz = zone(report.timezone)
    lines = [
        *method_lines(report, lang),
        tr(lang, "text.boundary"),
        tr(lang, "text.meters", meters=", ".join(report.meters) if report.meters else tr(lang, "text.meters_topology")),
        tr(lang, "text.energy_method", methods=", ".join(report.methods) or tr(lang, "text.none")),
        tr(lang, "text.sources", sources=", ".join(report.sources), zone=report.timezone),
        tr(lang, "text.coverage_rule", coverage=total.coverage_ratio, min_coverage=report.min_coverage),
    ]
    if total.gaps:
        shown = total.gaps[:12]
        gaps = "; ".join(
            tr(lang, "text.gap", start=iso_day(g.start_s, tz), end=iso_day(g.end_s, tz), hours=g.missing_s / 3600)
            for g in shown
        ) + (" ..." if len(total.gaps) > len(shown) else "")
        lines.append(tr(lang, "text.gaps", count=len(total.gaps), gaps=gaps))
    else:
        lines.append(tr(lang, "text.gaps_none"))
    return lines


def _reuse_lines(t: PeriodMetrics, lang: str = "en", ref_with_carbon: bool = False) -> list[str]:
    """Distribution pPUE, REF, ERE/ERF, WUE and per-zone pPUE where the topology meters them (nothing otherwise).

    ``ref_with_carbon``: REF is stated with the carbon lines instead (certificates included).
    """
    lines = []
    if t.ppue_distribution is not None and t.distribution_kwh is not None:
        lines.append(
            tr(
                lang,
                "text.ppue_distribution",
                ppue=t.ppue_distribution,
                into=t.distribution_kwh,
                losses=t.distribution_kwh - t.it_kwh,
            )
        )
    if t.ref is not None and t.renewable_kwh is not None and not ref_with_carbon:
        lines.append(tr(lang, "text.ref", ref=t.ref, renewable=t.renewable_kwh))
    if t.ere is not None and t.erf is not None and t.reused_heat_kwh is not None:
        lines.append(tr(lang, "text.ere", ere=t.ere, erf=t.erf, heat=t.reused_heat_kwh))
    if t.wue_l_per_kwh is not None and t.water_m3 is not None:
        lines.append(tr(lang, "text.wue", wue=t.wue_l_per_kwh, water=t.water_m3))
    for z in t.zones:
        lines.append(
            tr(
                lang,
                "text.zone",
                zone=z.zone,
                ppue=z.ppue,
                it=z.it_kwh,
                overhead=z.overhead_kwh,
                coverage=z.coverage_ratio,
            )
            if z.ppue is not None
            else tr(lang, "text.zone_withheld", zone=z.zone, reason=z.reason)
        )
    lines += list(t.notes)
    return lines


def summary_lines(report: PeriodReport, lang: str = "en") -> list[str]:
    t = report.total
    tz = zone(report.timezone)
    period = tr(
        lang, "text.period", start=iso_day(report.start_s, tz), end=iso_day(report.end_s, tz), zone=report.timezone
    )
    energy = tr(lang, "text.energy", facility=t.facility_kwh, it=t.it_kwh) + (
        tr(lang, "text.energy_cooling", cooling=t.cooling_kwh, other=t.other_kwh)
        if t.cooling_kwh is not None and t.other_kwh is not None
        else tr(lang, "text.energy_no_cooling")
    )
    lines = [
        tr(lang, "text.site_period", site=report.site, period=period),
        headline_line(report, period, lang) + (tr(lang, "text.dcie", dcie=t.dcie_percent) if t.dcie_percent else ""),
        tr(lang, "text.coverage", coverage=t.coverage_ratio, gaps=len(t.gaps)),
        energy,
    ]
    if t.ppue_cooling is not None:
        lines.append(
            tr(lang, "text.ppue_both", cooling=t.ppue_cooling, other=t.ppue_other)
            if t.ppue_other is not None
            else tr(lang, "text.ppue_cooling", cooling=t.ppue_cooling)
        )
    lines += _reuse_lines(t, lang, ref_with_carbon=report.carbon.account is not None)
    lines += compliance_lines(report, lang)
    lines += carbon_lines(report, lang)
    return lines


_IT_LOAD_KEY = {"regressor": "savings.it_regressor", "static": "savings.it_static"}


def _plan_lines(report: SavingsReport, lang: str) -> list[str]:
    plan, tz = report.plan, zone(report.timezone)
    lines = [
        tr(lang, "savings.ecm", ecm=plan.ecm or tr(lang, "savings.ecm_missing")),
        tr(lang, "savings.boundary", boundary=plan.boundary or tr(lang, "savings.boundary_missing")),
    ]
    if plan.adjustments:
        lines.append(tr(lang, "savings.adjustments", total=report.savings.adjustment_kwh))
        lines += [
            tr(
                lang,
                "savings.adjustment",
                start=iso_day(a.start_s, tz),
                end=iso_day(a.end_s, tz),
                kwh=a.kwh,
                uncertainty=tr(lang, "savings.adjustment_uncertainty", u=a.standard_uncertainty_kwh)
                if a.standard_uncertainty_kwh
                else "",
                description=a.description,
            )
            for a in plan.adjustments
        ]
    else:
        lines.append(tr(lang, "savings.adjustments_none"))
    return lines


def _range_lines(report: SavingsReport, lang: str) -> list[str]:
    r = report.range
    if r is None:
        return []
    per_variable = "; ".join(
        tr(lang, "savings.range_variable", name=name, share=share, lo=lo, hi=hi)
        for name, share, lo, hi in zip(r.names, r.outside_share, r.baseline_min, r.baseline_max, strict=True)
    )
    verdict = tr(
        lang,
        "savings.range_extrapolated" if report.extrapolated else "savings.range_within",
        limit=report.max_outside_share,
    )
    return [
        tr(lang, "savings.range", share=r.joint_outside_share, days=r.days, verdict=verdict),
        tr(lang, "savings.range_per_variable", variables=per_variable),
    ]


def _gl14_lines(report: SavingsReport, lang: str) -> list[str]:
    a = report.acceptance
    if a is None:
        return []
    monthly, hourly = GL14_LIMITS["monthly"], GL14_LIMITS["hourly"]
    fsu = (
        tr(lang, "savings.fsu_none")
        if a.fsu is None
        else tr(lang, "savings.fsu_at", fsu=a.fsu, confidence=a.confidence)
    )
    fsu68 = tr(lang, "savings.na") if a.fsu_68 is None else f"{a.fsu_68:.1%}"
    return [
        tr(
            lang,
            "savings.gl14",
            nmbe=a.nmbe,
            nmbe_limit=a.nmbe_limit,
            cv=a.cv_rmse,
            cv_limit=a.cv_rmse_limit,
            model=tr(lang, "savings.pass" if a.model_passes else "savings.fail"),
            fsu=fsu,
            fsu68=fsu68,
            c68=GL14_FSU_CONFIDENCE,
            fsu_limit=GL14_FSU_LIMIT,
            fsu_verdict=tr(lang, "savings.pass" if a.fsu_passes else "savings.fail"),
        ),
        tr(
            lang,
            "savings.gl14_limits",
            m0=monthly[0],
            m1=monthly[1],
            h0=hourly[0],
            h1=hourly[1],
            resolution=a.resolution,
        ),
    ]


def savings_lines(report: SavingsReport, lang: str = "en") -> list[str]:
    """The avoided-energy statement: periods, plan, model, guards, the figure and its uncertainty, the method."""
    s, fit = report.savings, report.fit
    tz = zone(report.timezone)
    it_term = tr(lang, "savings.model_it", coef=fit.coef_[1]) if fit.uses_it else ""
    cdd_coef = fit.coef_[2:] if fit.uses_it else fit.coef_[1:]
    status = ("" if s.significant else tr(lang, "savings.not_significant")) + (
        tr(lang, "savings.not_verified") if report.extrapolated else ""
    )
    it_change = report.compare_it_kwh_per_day - report.baseline_it_kwh_per_day
    it_note = (
        tr(lang, "savings.it_note", pue=report.baseline_pue, kwh=it_change * s.days * report.baseline_pue)
        if not fit.uses_it
        else ""
    )
    return [
        tr(
            lang,
            "savings.periods",
            b_start=iso_day(report.baseline[0], tz),
            b_end=iso_day(report.baseline[1], tz),
            c_start=iso_day(report.compare[0], tz),
            c_end=iso_day(report.compare[1], tz),
            zone=report.timezone,
        ),
        *_plan_lines(report, lang),
        tr(
            lang,
            "savings.model",
            intercept=fit.coef_[0],
            it_term=it_term,
            cdd=" + ".join(
                tr(lang, "savings.model_cdd", coef=c, base=b) for c, b in zip(cdd_coef, report.bases_c, strict=True)
            ),
            temperature=report.temperature,
        ),
        tr(
            lang,
            "savings.fit",
            n=fit.n_,
            p=fit.n_params_,
            coefficients=len(fit.coef_),
            selection=fit.selection_params_,
            candidates=report.candidates_tried,
            r2=fit.r2_,
            rho=fit.rho_,
            excluded=report.excluded_days,
        ),
        tr(lang, _IT_LOAD_KEY[report.it_load], rate=fit.coef_[1] if fit.uses_it else 0.0),
        tr(
            lang,
            "savings.it_energy",
            baseline=report.baseline_it_kwh_per_day,
            reporting=report.compare_it_kwh_per_day,
            change=it_change,
            ratio=it_change / report.baseline_it_kwh_per_day,
            note=it_note,
        ),
        *_range_lines(report, lang),
        *_gl14_lines(report, lang),
        tr(
            lang,
            "savings.adjusted",
            adjusted=s.predicted_kwh + s.adjustment_kwh,
            model=s.predicted_kwh,
            adjustments=tr(lang, "savings.adjusted_adjustments", kwh=s.adjustment_kwh) if s.adjustment_kwh else "",
            actual=s.actual_kwh,
            days=s.days,
        ),
        tr(
            lang,
            "savings.avoided",
            saved=s.saved_kwh,
            uncertainty=s.uncertainty_kwh,
            confidence=s.confidence,
            t=s.t_value,
            dof=s.dof_effective,
            se=s.standard_error_kwh,
            status=status,
        ),
        (
            tr(
                lang,
                "savings.tco2",
                t=report.saved_t_co2,
                u=s.uncertainty_kwh * report.factor.kg_co2_per_kwh / 1000,
                key=report.factor.key,
            )
            if report.factor is not None and report.saved_t_co2 is not None
            else tr(lang, "savings.no_tco2")
        )
        + tr(lang, "savings.pue_points", points=report.pue_points, u=report.pue_points_uncertainty),
        tr(lang, "savings.method"),
    ]
