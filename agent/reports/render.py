"""Rendering a report: A4 PDF pages or self-contained HTML, with charts (matplotlib, Agg backend).

A period report is the block list of :func:`agent.reports.document.period_document` laid out page by
page (text wraps at the column width, CJK text at any character; tables repeat their header after a
page break; every page carries the report number), then one chart per page. Chinese uses the CJK
TrueType font of :mod:`agent.reports.fonts`, embedded as CID TrueType so the text extracts as written.
"""

from __future__ import annotations

import base64
import html
import io
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agent.errors import HistoryQueryError, HistoryStoreError
from agent.reports.audit import AuditContext, AuditFindings
from agent.reports.charts import period_figures, savings_figures
from agent.reports.document import (
    Block,
    Fields,
    Heading,
    PageBreak,
    Paragraph,
    Signatures,
    Table,
    Title,
    period_document,
)
from agent.reports.fonts import font_family
from agent.reports.i18n import LANGUAGES, tr
from agent.reports.report import PeriodReport, SavingsReport
from agent.reports.text import savings_lines

__all__ = ["render", "title_sample"]

_PAGE_W_IN, _PAGE_H_IN = 8.27, 11.69  # A4
_LEFT, _RIGHT, _TOP, _BOTTOM = 0.07, 0.93, 0.95, 0.06  # figure fractions
_PT_PER_FRACTION_X = _PAGE_W_IN * 72
_PT_PER_FRACTION_Y = _PAGE_H_IN * 72
#: TrueType embedding (CID, with ToUnicode: text extracts as written); a missing glyph is the font's own box,
#: not matplotlib's last-resort font, so that it is the same box whatever the character
_RC: dict[str, Any] = {"pdf.fonttype": 42, "axes.unicode_minus": False, "font.enable_last_resort": False}


def _units(char: str) -> float:
    """Width of a character in ems (CJK full width 1, Latin about 0.56)."""
    return 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.55


def _wrap(text: str, width_pt: float, size_pt: float) -> list[str]:
    """``text`` in lines no wider than ``width_pt``: breaks at spaces, and between any two CJK characters."""
    limit = width_pt / size_pt
    lines: list[str] = []
    line, used = "", 0.0
    for token in _tokens(text):
        width = sum(_units(c) for c in token)
        if used + width > limit and line.strip():
            lines.append(line.rstrip())
            line, used = token.lstrip(), sum(_units(c) for c in token.lstrip())
        else:
            line, used = line + token, used + width
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _tokens(text: str) -> Iterator[str]:
    word = ""
    for char in text:
        if char == " " or _units(char) == 1.0:
            if word:
                yield word
            word = ""
            yield char
        else:
            word += char
    if word:
        yield word


class _Pages:
    """Lays blocks out on A4 figures: a cursor from the top, a new page when the next item does not fit."""

    def __init__(self, family: list[str], footer: str) -> None:
        self.family, self.footer = family, footer
        self.pages: list[Any] = []
        self.y = 0.0
        self._new()

    def _new(self) -> None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(_PAGE_W_IN, _PAGE_H_IN))
        fig.text(_LEFT, 0.03, f"{self.footer} | {len(self.pages) + 1}", fontsize=7, color="#666666", family=self.family)
        self.pages.append(fig)
        self.y = _TOP

    def _room(self, height: float) -> None:
        if self.y - height < _BOTTOM:
            self._new()

    def text(self, x: float, text: str, size: float, *, weight: str = "normal", color: str = "black") -> None:
        self.pages[-1].text(x, self.y, text, fontsize=size, weight=weight, color=color, va="top", family=self.family)

    def paragraph(self, text: str, size: float = 9.0, weight: str = "normal", x: float = _LEFT) -> None:
        width_pt = (_RIGHT - x) * _PT_PER_FRACTION_X
        for line in _wrap(text, width_pt, size):
            step = size * 1.45 / _PT_PER_FRACTION_Y
            self._room(step)
            self.text(x, line, size, weight=weight)
            self.y -= step
        self.y -= 0.004

    def heading(self, text: str) -> None:
        self._room(0.08)  # never a heading alone at the foot of a page
        self.y -= 0.008
        self.text(_LEFT, text, 12.5, weight="bold", color="#1a365d")
        self.y -= 0.026

    def title(self, title: str, subtitle: str) -> None:
        self.y = 0.86
        self.text(_LEFT, title, 21, weight="bold", color="#1a365d")
        self.y -= 0.045
        self.text(_LEFT, subtitle, 11.5, color="#2d3748")
        self.y -= 0.06

    def fields(self, pairs: Sequence[tuple[str, str]]) -> None:
        for label, value in pairs:
            self._room(0.03)
            self.text(_LEFT, label, 10.5, color="#4a5568")
            top = self.y
            self.paragraph(value, 10.5, "bold", x=0.32)
            self.y = min(self.y, top - 0.026)
        self.y -= 0.02

    def table(self, table: Table, size: float = 7.2) -> None:
        total = sum(table.widths)
        xs, x = [], _LEFT
        for w in table.widths:
            xs.append(x)
            x += (_RIGHT - _LEFT) * w / total
        widths_pt = [(_RIGHT - _LEFT) * w / total * _PT_PER_FRACTION_X - 4 for w in table.widths]
        line_h = size * 1.35 / _PT_PER_FRACTION_Y

        def row(cells: Sequence[str], weight: str, fill: str | None) -> None:
            wrapped = [_wrap(c, w, size) for c, w in zip(cells, widths_pt, strict=True)]
            height = line_h * max(len(w) for w in wrapped) + 0.004
            if self.y - height < _BOTTOM:
                self._new()
                row(table.header, "bold", "#e2e8f0")
            if fill is not None:
                from matplotlib.patches import Rectangle

                self.pages[-1].add_artist(
                    Rectangle((_LEFT, self.y - height + 0.002), _RIGHT - _LEFT, height, color=fill, zorder=-1)
                )
            for x0, lines in zip(xs, wrapped, strict=True):
                for k, line in enumerate(lines):
                    self.pages[-1].text(
                        x0 + 0.002,
                        self.y - k * line_h,
                        line,
                        fontsize=size,
                        weight=weight,
                        va="top",
                        family=self.family,
                    )
            self.y -= height

        self._room(line_h * 3)
        row(table.header, "bold", "#e2e8f0")
        for i, cells in enumerate(table.rows):
            row(cells, "bold" if i in table.strong_rows else "normal", "#f7fafc" if i % 2 else None)
        self.y -= 0.01

    def signatures(self, block: Signatures) -> None:
        self.y = min(self.y, 0.30)
        for role, name in block.people:
            self.text(_LEFT, f"{role}: {name}", 10.5, weight="bold")
            self.y -= 0.035
            self.text(_LEFT, f"{block.signature}: ________________________", 10.5)
            self.text(0.58, f"{block.date}: ________________", 10.5)
            self.y -= 0.05


def _lay_out(blocks: Sequence[Block], family: list[str], footer: str) -> list[Any]:
    pages = _Pages(family, footer)
    for block in blocks:
        if isinstance(block, Title):
            pages.title(block.text, block.subtitle)
        elif isinstance(block, Heading):
            pages.heading(block.text)
        elif isinstance(block, Paragraph):
            pages.paragraph(block.text, block.size, weight="bold" if block.strong else "normal")
        elif isinstance(block, Fields):
            pages.fields(block.pairs)
        elif isinstance(block, Table):
            pages.table(block)
        elif isinstance(block, Signatures):
            pages.signatures(block)
        elif isinstance(block, PageBreak):
            pages._new()
    return pages.pages


def _html(blocks: Sequence[Block], title: str, lang: str, figures: Sequence[Any]) -> str:
    parts = [
        f"<!doctype html><html lang='{lang}'><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;font-size:90%}</style>",
    ]
    for block in blocks:
        if isinstance(block, Title):
            parts.append(f"<h1>{html.escape(block.text)}</h1><p>{html.escape(block.subtitle)}</p>")
        elif isinstance(block, Heading):
            parts.append(f"<h2>{html.escape(block.text)}</h2>")
        elif isinstance(block, Paragraph):
            text = html.escape(block.text)
            parts.append(f"<p><b>{text}</b></p>" if block.strong else f"<p>{text}</p>")
        elif isinstance(block, Fields):
            parts.append(
                "<table>"
                + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in block.pairs)
                + "</table>"
            )
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(c)}</th>" for c in block.header)
            body = "".join(
                ("<tr style='font-weight:bold'>" if i in block.strong_rows else "<tr>")
                + "".join(f"<td>{html.escape(c)}</td>" for c in row)
                + "</tr>"
                for i, row in enumerate(block.rows)
            )
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        elif isinstance(block, Signatures):
            for role, name in block.people:
                parts.append(
                    f"<p><b>{html.escape(role)}: {html.escape(name)}</b><br>{html.escape(block.signature)}: "
                    f"________________ {html.escape(block.date)}: ____________</p>"
                )
    for fig in figures:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        parts.append(
            f"<p><img alt='chart' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'></p>"
        )
    return "\n".join(parts)


def title_sample(text: str, lang: str, out: Path) -> None:
    """A one-page PDF with ``text`` set exactly as the cover sets its title, in ``lang``'s fonts.

    For glyph checks: rasterised, it matches the cover's title band, and Chinese drawn with a font
    lacking its glyphs matches the same number of private-use characters (all missing-glyph boxes).
    """
    import matplotlib

    matplotlib.use("Agg")
    family, _font_file = font_family(lang)
    rc: dict[Any, Any] = {**_RC, "font.family": family}
    with matplotlib.rc_context(rc):
        from matplotlib.backends.backend_pdf import PdfPages

        with PdfPages(out) as pdf:
            for page in _lay_out([Title(text, "")], family, ""):
                pdf.savefig(page)


def render(
    report: PeriodReport | SavingsReport,
    out: Path,
    *,
    lang: str = "en",
    context: AuditContext | None = None,
    findings: AuditFindings | None = None,
    db: str = "",
    args: Sequence[str] = (),
) -> None:
    """Write ``report`` as PDF (``.pdf``) or self-contained HTML (``.html``) in ``lang`` (en, zh).

    A period report needs ``findings`` (:func:`agent.reports.audit.audit_findings`) for its register,
    bills, breakdown and provenance sections.

    Raises
    ------
    HistoryQueryError
        unknown suffix or language; a period report without findings.
    HistoryStoreError
        the file cannot be written; a Chinese report and no CJK font installed.
    """
    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        raise HistoryQueryError(f"report file must end in .pdf or .html, got {out.name!r}")
    if lang not in LANGUAGES:
        raise HistoryQueryError(f"unknown report language {lang!r} (one of {', '.join(LANGUAGES)})")
    import logging

    import matplotlib

    matplotlib.use("Agg")
    # fontTools logs every font subset at INFO while the PDF is written: not news for the report's reader
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    # nor that the CJK font has no bold face (its regular weight is used, by design)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    family, font_file = font_family(lang)
    rc: dict[Any, Any] = {**_RC, "font.family": family}
    with matplotlib.rc_context(rc):
        if isinstance(report, PeriodReport):
            if findings is None:
                raise HistoryQueryError("a period report is rendered with its audit findings")
            ctx = context or AuditContext()
            blocks = period_document(
                report,
                findings,
                ctx,
                lang,
                db=db,
                args=args,
                font=", ".join([*family, *([font_file] if font_file else [])]),
            )
            title = f"{ctx.site if ctx.site != 'site' else report.site} {findings.report_number}"
            footer = f"{ctx.site if ctx.site != 'site' else report.site} | {findings.report_number}"
            figures = period_figures(report, findings, lang)
        else:
            title = tr(lang, "savings.title")
            blocks = [Heading(title), *(Paragraph(line) for line in savings_lines(report, lang))]
            footer = title
            figures = savings_figures(report, lang)
        try:
            if suffix == ".pdf":
                from matplotlib.backends.backend_pdf import PdfPages

                with PdfPages(out, metadata={"Title": title, "Creator": "pue-agent"}) as pdf:
                    for page in _lay_out(blocks, family, footer):
                        pdf.savefig(page)
                    for fig in figures:
                        pdf.savefig(fig)
            else:
                out.write_text(_html(blocks, title, lang, figures), encoding="utf-8")
        except OSError as err:
            raise HistoryStoreError(f"cannot write report {out}: {err.strerror or err}") from err
