"""Rendering a report: PDF or self-contained HTML with its charts (matplotlib, Agg backend)."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from agent.errors import HistoryQueryError, HistoryStoreError
from agent.reports.periods import zone
from agent.reports.report import PeriodReport, SavingsReport
from agent.reports.text import method_statement, savings_lines, summary_lines

__all__ = ["render"]


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
        other = np.array([max(p.facility_kwh - p.it_kwh - (p.cooling_kwh or 0.0), 0.0) / 1e3 for _, p in report.months])
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
        ax.plot(days, np.array(report.daily_predicted_kwh) / 1e3, label="baseline prediction", color="#c05621")
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
            f"Verified saving {report.savings.saved_kwh / 1e3:,.1f} +- {report.savings.uncertainty_kwh / 1e3:,.1f} MWh"
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

            text_lines = lines + ([""] + [" ".join(f"{c:>11}" for c in row) for row in table] if table else [])
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
                    + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table)
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
