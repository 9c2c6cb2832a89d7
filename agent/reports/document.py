"""The period report as a document: cover, summary, method, register, bills, monthly table, breakdown,
carbon, gaps and provenance, as a list of blocks in one language (:mod:`agent.reports.i18n`).

:mod:`agent.reports.render` draws the blocks as PDF pages or HTML; nothing here knows the output format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agent.reports.audit import AuditContext, AuditFindings, generated_at
from agent.reports.compliance import carbon_lines, headline_line
from agent.reports.i18n import tr
from agent.reports.periods import iso_day, zone
from agent.reports.report import PeriodReport
from agent.reports.text import method_statement, summary_lines

__all__ = ["Block", "Fields", "Heading", "PageBreak", "Paragraph", "Signatures", "Table", "Title", "period_document"]


@dataclass(frozen=True)
class Title:
    text: str
    subtitle: str = ""


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    strong: bool = False
    size: float = 9.0


@dataclass(frozen=True)
class Fields:
    """Label: value pairs (the cover)."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: relative column widths
    widths: tuple[float, ...]
    #: rows (by index) drawn bold: totals, flagged meters
    strong_rows: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Signatures:
    """Sign-off lines: (role, name) each with signature and date fields."""

    people: tuple[tuple[str, str], ...]
    signature: str
    date: str


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Title | Heading | Paragraph | Fields | Table | Signatures | PageBreak


#: a bill differing from the metered energy by more than this share is printed bold and counted on the cover
BILL_TOLERANCE = 0.01


def _kwh(value: float | None) -> str:
    if value is None:
        return "-"
    return "0" if abs(value) < 0.5 else f"{value:,.0f}"  # never "-0"


def _pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    text = f"{value * 100:.{digits}f} %"
    return text[1:] if text.startswith("-") and float(text[:-2]) == 0 else text


def _period(report: PeriodReport) -> str:
    """The period as an auditor writes it: first and last day, both included, when it is whole days."""
    tz = zone(report.timezone)
    start = datetime.fromtimestamp(report.start_s, tz=tz)
    end = datetime.fromtimestamp(report.end_s, tz=tz)
    if start.time() == end.time() == datetime.min.time():
        return f"{start.date()} – {(end - timedelta(days=1)).date()}"
    return f"{iso_day(report.start_s, tz)} – {iso_day(report.end_s, tz)}"


def cover(report: PeriodReport, findings: AuditFindings, ctx: AuditContext, lang: str) -> list[Block]:
    tz = zone(report.timezone)
    t = report.total
    missing = tr(lang, "cover.not_stated")
    period = f"{_period(report)} ({report.timezone})"
    return [
        Title(tr(lang, "cover.title"), tr(lang, "cover.subtitle")),
        Fields(
            (
                (tr(lang, "cover.site"), ctx.site if ctx.site != "site" else report.site),
                (tr(lang, "cover.owner"), ctx.owner or missing),
                (tr(lang, "cover.address"), ctx.address or missing),
                (tr(lang, "cover.period"), period),
                (tr(lang, "cover.report_number"), findings.report_number),
                (tr(lang, "cover.issued"), datetime.now(tz=UTC).astimezone(tz).strftime("%Y-%m-%d")),
            )
        ),
        Heading(tr(lang, "cover.headline")),
        Paragraph(headline_line(report, _period(report), lang), strong=True, size=12.0),
        Paragraph(
            tr(lang, "cover.energy_line", facility=_kwh(t.facility_kwh), it=_kwh(t.it_kwh)),
            size=10.5,
        ),
        Paragraph(
            tr(
                lang,
                "cover.coverage_line",
                coverage=f"{t.coverage_ratio:.2%}",
                gaps=len(t.gaps),
                overdue=findings.overdue,
            ),
            size=10.5,
        ),
        Paragraph(
            tr(
                lang,
                "cover.bills_line",
                bills=len(findings.bills),
                flagged=_bills_flagged(findings),
                tolerance=f"{BILL_TOLERANCE:.0%}",
            )
            if findings.bills
            else tr(lang, "bills.empty"),
            size=10.5,
        ),
        Signatures(
            (
                (tr(lang, "cover.preparer"), ctx.preparer or ""),
                (tr(lang, "cover.reviewer"), ctx.reviewer or ""),
            ),
            tr(lang, "cover.signature"),
            tr(lang, "cover.date"),
        ),
        PageBreak(),
    ]


def _boundary(name: str, lang: str) -> str:
    """A boundary of the topology by name, in ``lang`` (``zone:<name>``: that zone's partial boundary)."""
    if name.startswith("zone:"):
        return tr(lang, "boundary.zone", zone=name.removeprefix("zone:"))
    return tr(lang, f"boundary.{name}")


def _bills_flagged(findings: AuditFindings) -> int:
    return sum(1 for c in findings.bills if c.difference_ratio is not None and abs(c.difference_ratio) > BILL_TOLERANCE)


def _register(findings: AuditFindings, lang: str) -> list[Block]:
    if not findings.register:
        return [Paragraph(tr(lang, "register.empty"))]
    rows, flagged = [], set()
    for i, (m, past) in enumerate(findings.register):
        parts = [_boundary(b, lang) for b in m.boundaries]
        parts += [tr(lang, f"subsystem.{s}") for s in m.subsystems]
        parts += [*m.units, *([m.measures] if m.measures else [])]
        measures = ", ".join(parts)
        rows.append(
            (
                m.id,
                m.device or "-",
                m.location,
                measures or "-",
                m.accuracy_class,
                m.ct_ratio or "-",
                m.vt_ratio or "-",
                m.calibrated.isoformat(),
                m.calibration_due.isoformat(),
                tr(lang, "register.overdue" if past else "register.ok"),
            )
        )
        if past:
            flagged.add(i)
    keys = ("id", "device", "location", "measures", "accuracy", "ct", "vt", "calibrated", "due", "status")
    blocks: list[Block] = [
        Table(
            tuple(tr(lang, f"register.{k}") for k in keys),
            tuple(rows),
            (0.7, 1.0, 1.9, 1.5, 0.6, 0.8, 0.9, 0.95, 0.95, 1.1),
            frozenset(flagged),
        ),
        Paragraph(tr(lang, "register.note", end=findings.period_end.isoformat())),
    ]
    if findings.overdue:
        blocks.append(Paragraph(tr(lang, "register.overdue_note", count=findings.overdue), strong=True))
    return blocks


def _bills(findings: AuditFindings, lang: str) -> list[Block]:
    if not findings.bills:
        blocks: list[Block] = [Paragraph(tr(lang, "bills.empty"))]
    else:
        rows = tuple(
            (
                f"{c.bill.start} – {c.bill.end}",
                c.bill.number or "-",
                _kwh(c.bill.kwh),
                _kwh(c.metered_kwh),
                _pct(c.coverage_ratio),
                f"{c.difference_kwh:+,.0f}",
                "-" if c.difference_ratio is None else f"{c.difference_ratio * 100:+.2f} %",
            )
            for c in findings.bills
        )
        keys = ("period", "number", "billed", "metered", "coverage", "difference", "difference_pct")
        basis = "bills.basis_tag" if all(c.basis == "tag" for c in findings.bills) else "bills.basis_fallback"
        flagged = frozenset(
            i
            for i, c in enumerate(findings.bills)
            if c.difference_ratio is not None and abs(c.difference_ratio) > BILL_TOLERANCE
        )
        blocks = [
            Table(tuple(tr(lang, f"bills.{k}") for k in keys), rows, (1.9, 1.1, 1.1, 1.1, 0.9, 1.0, 0.9), flagged),
            Paragraph(tr(lang, basis)),
            Paragraph(
                tr(lang, "bills.flagged", count=len(flagged), tolerance=f"{BILL_TOLERANCE:.0%}"), strong=bool(flagged)
            ),
        ]
    if findings.bills_outside:
        blocks.append(Paragraph(tr(lang, "bills.outside", count=findings.bills_outside)))
    return blocks


def _monthly(report: PeriodReport, lang: str) -> list[Block]:
    rows = []
    for month, m in [*report.months, (tr(lang, "monthly.total"), report.total)]:
        rows.append(
            (
                month,
                f"{m.pue:.3f}" if m.pue is not None else tr(lang, "monthly.withheld"),
                f"{m.coverage_ratio:.1%}",
                _kwh(m.facility_kwh),
                _kwh(m.it_kwh),
                _kwh(m.cooling_kwh),
                str(len(m.gaps)),
            )
        )
    keys = ("month", "pue", "coverage", "facility", "it", "cooling", "gaps")
    return [
        Table(
            tuple(tr(lang, f"monthly.{k}") for k in keys),
            tuple(rows),
            (1.0, 0.8, 0.9, 1.3, 1.3, 1.3, 0.6),
            frozenset({len(rows) - 1}),
        )
    ]


def _breakdown(report: PeriodReport, findings: AuditFindings, lang: str) -> list[Block]:
    t = report.total
    blocks: list[Block] = [
        Paragraph(
            tr(lang, "breakdown.boundaries", it=_kwh(t.it_kwh), cooling=_kwh(t.cooling_kwh), other=_kwh(t.other_kwh))
        )
    ]
    if report.carbon.diesel_litres > 0:  # the fuel log of the carbon config: an energy type metered by the litre
        blocks.append(Paragraph(tr(lang, "breakdown.diesel", litres=f"{report.carbon.diesel_litres:,.0f}")))
    if not findings.tags:
        return [*blocks, Paragraph(tr(lang, "breakdown.empty"))]
    rows = tuple(
        (
            tr(lang, f"kind.{g.kind}"),
            tr(lang, f"{g.kind}.{g.name}") if g.kind != "unit" else g.name,
            _kwh(g.kwh),
            _pct(g.coverage_ratio),
            _pct(g.share),
        )
        for g in findings.tags
    )
    keys = ("kind", "name", "energy", "coverage", "share")
    blocks += [
        Table(tuple(tr(lang, f"breakdown.{k}") for k in keys), rows, (1.0, 1.8, 1.2, 0.9, 1.0)),
        Paragraph(tr(lang, "breakdown.note")),
    ]
    if findings.unmetered_remainder_kwh is not None and t.facility_kwh > 0:
        blocks.append(
            Paragraph(
                tr(
                    lang,
                    "breakdown.remainder",
                    kwh=_kwh(findings.unmetered_remainder_kwh),
                    share=_pct(findings.unmetered_remainder_kwh / t.facility_kwh),
                )
            )
        )
    return blocks


def _carbon(report: PeriodReport, lang: str) -> list[Block]:
    """The carbon statement (:func:`agent.reports.compliance.carbon_lines`): factor, CUE, tCO2 and their parts."""
    factor = report.carbon.factor
    lines = [tr(lang, "carbon.factor", factor=factor.describe())] if factor is not None else []
    return [Paragraph(line) for line in [*lines, *carbon_lines(report, lang)]]


def _gaps(report: PeriodReport, lang: str, shown: int = 25) -> list[Block]:
    gaps = report.total.gaps
    if not gaps:
        return [Paragraph(tr(lang, "gaps.none"))]
    tz = zone(report.timezone)
    hours = sum(g.missing_s for g in gaps) / 3600
    blocks: list[Block] = [
        Paragraph(tr(lang, "gaps.header", count=len(gaps), hours=f"{hours:,.1f}")),
        Table(
            (tr(lang, "gaps.from"), tr(lang, "gaps.to"), tr(lang, "gaps.hours")),
            tuple((iso_day(g.start_s, tz), iso_day(g.end_s, tz), f"{g.missing_s / 3600:.1f}") for g in gaps[:shown]),
            (1.5, 1.5, 0.8),
        ),
    ]
    if len(gaps) > shown:
        blocks.append(Paragraph(tr(lang, "gaps.more", count=len(gaps) - shown)))
    return blocks


def _provenance(findings: AuditFindings, ctx: AuditContext, lang: str, db: str, args: str, font: str) -> list[Block]:
    config = (
        tr(lang, "provenance.config", path=ctx.config_path, sha=ctx.config_sha256)
        if ctx.config_sha256 is not None
        else tr(lang, "provenance.no_config")
    )
    return [
        Paragraph(tr(lang, "provenance.data", rows=findings.rows_used, db=db)),
        Paragraph(tr(lang, "provenance.data_hash", sha=findings.rows_sha256)),
        Paragraph(tr(lang, "provenance.software", **findings.software)),
        Paragraph(config),
        Paragraph(tr(lang, "provenance.font", font=font)),
        Paragraph(tr(lang, "provenance.generated", when=generated_at(), args=args)),
    ]


def period_document(
    report: PeriodReport,
    findings: AuditFindings,
    ctx: AuditContext,
    lang: str,
    *,
    db: str = "",
    args: Sequence[str] = (),
    font: str = "",
) -> list[Block]:
    """Every block of the period report, in order (charts are added by the renderer after them)."""
    blocks: list[Block] = cover(report, findings, ctx, lang)
    blocks += [Heading(tr(lang, "section.summary")), *(Paragraph(line) for line in summary_lines(report, lang))]
    blocks += [Heading(tr(lang, "section.method")), *(Paragraph(line) for line in method_statement(report, lang))]
    blocks += [Heading(tr(lang, "section.register")), *_register(findings, lang)]
    blocks += [Heading(tr(lang, "section.bills")), *_bills(findings, lang)]
    blocks += [Heading(tr(lang, "section.monthly")), *_monthly(report, lang)]
    blocks += [Heading(tr(lang, "section.breakdown")), *_breakdown(report, findings, lang)]
    blocks += [Heading(tr(lang, "section.carbon")), *_carbon(report, lang)]
    blocks += [Heading(tr(lang, "section.gaps")), *_gaps(report, lang)]
    blocks += [Heading(tr(lang, "section.provenance")), *_provenance(findings, ctx, lang, db, " ".join(args), font)]
    return blocks
