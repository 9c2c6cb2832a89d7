"""The report's charts (matplotlib figures, A4 width), labelled in the report's language."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np

from agent.reports.audit import AuditFindings
from agent.reports.i18n import tr
from agent.reports.periods import zone
from agent.reports.report import PeriodReport, SavingsReport

__all__ = ["period_figures", "savings_figures"]


def _figure() -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(8.27, 5.0))


def period_figures(report: PeriodReport, findings: AuditFindings, lang: str) -> list[Any]:
    """Monthly PUE with coverage, monthly energy breakdown, daily PUE against outdoor temperature and,
    where the data has them, energy by sub-system."""
    labels = [m for m, _ in report.months]
    x = np.arange(len(labels))
    pues = [p.pue if p.pue is not None else math.nan for _, p in report.months]
    coverage = [p.coverage_ratio * 100 for _, p in report.months]
    figures = []

    fig = _figure()
    ax = fig.add_subplot()
    ax.bar(x, pues, color="#2b6cb0", label=tr(lang, "chart.pue"))
    ax.set_ylim(1.0, max([p for p in pues if not math.isnan(p)] + [report.thresholds[2]]) + 0.05)
    for n, threshold in enumerate(report.thresholds, start=1):
        ax.axhline(threshold, linestyle="--", linewidth=1, color="#888888")
        ax.text(len(labels) - 0.5, threshold, tr(lang, "chart.grade", n=n), va="bottom", ha="right", fontsize=8)
    ax.set_ylabel(f"{tr(lang, 'chart.pue')} [-]")
    ax.set_title(tr(lang, "chart.monthly_title"))
    right = ax.twinx()
    right.plot(x, coverage, color="#dd6b20", marker="o")
    right.set_ylim(0, 105)
    right.set_ylabel(tr(lang, "chart.coverage"))
    ax.set_xticks(x, labels, rotation=45)
    fig.tight_layout()
    figures.append(fig)

    fig = _figure()
    ax = fig.add_subplot()
    it = np.array([p.it_kwh / 1e3 for _, p in report.months])
    cool = np.array([(p.cooling_kwh or 0.0) / 1e3 for _, p in report.months])
    other = np.array([max(p.facility_kwh - p.it_kwh - (p.cooling_kwh or 0.0), 0.0) / 1e3 for _, p in report.months])
    ax.bar(x, it, label=tr(lang, "chart.it"), color="#2f855a")
    ax.bar(x, cool, bottom=it, label=tr(lang, "chart.cooling"), color="#3182ce")
    ax.bar(x, other, bottom=it + cool, label=tr(lang, "chart.other"), color="#c05621")
    ax.set_ylabel(tr(lang, "chart.energy_mwh"))
    ax.set_title(tr(lang, "chart.breakdown_title"))
    ax.legend()
    ax.set_xticks(x, labels, rotation=45)
    fig.tight_layout()
    figures.append(fig)

    fig = _figure()
    ax = fig.add_subplot()
    if report.daily_pue:
        temps, values = zip(*report.daily_pue, strict=True)
        ax.scatter(temps, values, s=12, color="#2b6cb0")
    else:
        ax.text(0.5, 0.5, tr(lang, "chart.no_days"), ha="center", transform=ax.transAxes)
    ax.set_xlabel(tr(lang, "chart.outdoor"))
    ax.set_ylabel(tr(lang, "chart.daily_pue"))
    ax.set_title(tr(lang, "chart.scatter_title"))
    fig.tight_layout()
    figures.append(fig)

    subsystems = [g for g in findings.tags if g.kind == "subsystem"]
    if subsystems:
        fig = _figure()
        ax = fig.add_subplot()
        names = [tr(lang, f"subsystem.{g.name}") for g in subsystems]
        ax.barh(np.arange(len(names)), [g.kwh / 1e3 for g in subsystems], color="#3182ce")
        ax.set_yticks(np.arange(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel(tr(lang, "chart.energy_mwh"))
        ax.set_title(tr(lang, "chart.subsystem_title"))
        fig.tight_layout()
        figures.append(fig)
    return figures


def savings_figures(report: SavingsReport, lang: str) -> list[Any]:
    """Baseline prediction against actual, and the cumulative avoided energy."""
    days: Any = [datetime.fromtimestamp(t, tz=zone(report.timezone)) for t in report.daily_start_s]
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(days, np.array(report.daily_predicted_kwh) / 1e3, label=tr(lang, "chart.prediction"), color="#c05621")
    ax.plot(days, np.array(report.daily_actual_kwh) / 1e3, label=tr(lang, "chart.actual"), color="#2b6cb0")
    ax.set_ylabel(tr(lang, "chart.facility_mwh_per_day"))
    ax.set_title(tr(lang, "chart.prediction_title"))
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    second = _figure()
    ax = second.add_subplot()
    cumulative = np.cumsum(np.array(report.daily_predicted_kwh) - np.array(report.daily_actual_kwh)) / 1e3
    ax.fill_between(days, 0, cumulative, color="#2f855a", alpha=0.6)
    ax.plot(days, cumulative, color="#2f855a")
    ax.set_ylabel(tr(lang, "chart.cumulative_avoided"))
    ax.set_title(
        tr(
            lang,
            "chart.avoided_title",
            saved=f"{report.savings.saved_kwh / 1e3:,.1f}",
            uncertainty=f"{report.savings.uncertainty_kwh / 1e3:,.1f}",
        )
    )
    second.autofmt_xdate()
    second.tight_layout()
    return [fig, second]
