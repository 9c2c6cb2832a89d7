"""What makes a period report auditable: identity, meter register, bill reconciliation, breakdown, provenance.

:func:`audit_context` takes what the site config says (identity for the cover, the meter register with
the boundary, sub-system and unit each meter measures read from the topology, the bills, the config's
SHA-256); :func:`audit_findings` checks it against the history of the period: meters past calibration
at the period's end, metered grid electricity against each bill, energy by sub-system, unit and energy
type with each one's coverage, and the SHA-256 of the hourly rows the report used.
"""

from __future__ import annotations

import hashlib
import platform
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from importlib import metadata
from typing import TYPE_CHECKING

from agent.config.audit import DEFAULT_ENERGY_TYPE, TAG_KINDS, UtilityBill, parse_tag_term, tag_term
from agent.history.records import HistoryStore, SiteRollup
from agent.reports.periods import zone
from agent.reports.report import PeriodReport

if TYPE_CHECKING:
    from agent.config.site import SiteConfig

__all__ = [
    "AuditContext",
    "AuditFindings",
    "BillCheck",
    "MeterRow",
    "TagEnergy",
    "audit_context",
    "audit_findings",
    "rollup_sha256",
]


@dataclass(frozen=True)
class MeterRow:
    """One meter of the register as printed; ``boundaries``/``subsystems``/``units`` from the topology."""

    id: str
    device: str | None
    location: str
    measures: str | None
    boundaries: tuple[str, ...]
    subsystems: tuple[str, ...]
    units: tuple[str, ...]
    accuracy_class: str
    ct_ratio: str | None
    vt_ratio: str | None
    calibrated: date
    calibration_due: date


@dataclass(frozen=True)
class AuditContext:
    """What the site config says about the site, its meters and bills (empty without a config)."""

    site: str = "site"
    owner: str | None = None
    address: str | None = None
    report_number_prefix: str | None = None
    preparer: str | None = None
    reviewer: str | None = None
    meters: tuple[MeterRow, ...] = ()
    bills: tuple[UtilityBill, ...] = ()
    config_path: str | None = None
    config_sha256: str | None = None


def audit_context(
    cfg: SiteConfig | None, config_path: str | None = None, config_bytes: bytes | None = None
) -> AuditContext:
    """The :class:`AuditContext` of a loaded site config (or an empty one)."""
    if cfg is None:
        return AuditContext()
    topo = cfg.topology
    where: dict[str, set[str]] = {}
    tags: dict[str, tuple[set[str], set[str]]] = {}
    named = [("facility", topo.facility), ("it", topo.it), ("cooling", topo.cooling), *topo.optional_boundaries()]
    named += [(f"zone:{z}", (*spec.it, *spec.overhead)) for z, spec in topo.zones.items()]
    named += [("submeter", topo.submeters)]
    for boundary, terms in named:
        for term in terms:
            where.setdefault(term.device, set()).add(boundary)
            subsystems, units = tags.setdefault(term.device, (set(), set()))
            if term.subsystem:
                subsystems.add(term.subsystem)
            if term.unit:
                units.add(term.unit)
    rows = []
    for m in cfg.meters:
        if m.device is not None:
            subsystems, units = tags.get(m.device, (set(), set()))
            boundaries, subs, unit_names = (
                tuple(sorted(where.get(m.device, ()))),
                tuple(sorted(subsystems)),
                tuple(sorted(units)),
            )
        else:
            boundaries = (m.boundary,) if m.boundary else ()
            subs = (m.subsystem,) if m.subsystem else ()
            unit_names = (m.unit,) if m.unit else ()
        rows.append(
            MeterRow(
                m.id,
                m.device,
                m.location,
                m.measures,
                boundaries,
                subs,
                unit_names,
                m.accuracy_class,
                m.ct_ratio,
                m.vt_ratio,
                m.calibrated,
                m.calibration_due,
            )
        )
    site = cfg.site
    return AuditContext(
        site=site.display_name or site.name,
        owner=site.owner,
        address=site.address,
        report_number_prefix=site.report_number_prefix,
        preparer=site.preparer,
        reviewer=site.reviewer,
        meters=tuple(rows),
        bills=cfg.bills,
        config_path=config_path,
        config_sha256=None if config_bytes is None else hashlib.sha256(config_bytes).hexdigest(),
    )


@dataclass(frozen=True)
class BillCheck:
    """One bill against the metered grid electricity of its days (local dates of the report's zone)."""

    bill: UtilityBill
    metered_kwh: float
    coverage_ratio: float
    basis: str  # "tag": energy type grid_electricity; "fallback": facility - on-site renewable

    @property
    def difference_kwh(self) -> float:
        return self.metered_kwh - self.bill.kwh

    @property
    def difference_ratio(self) -> float | None:
        return None if self.bill.kwh <= 0 else self.difference_kwh / self.bill.kwh


@dataclass(frozen=True)
class TagEnergy:
    """Energy of one sub-system, unit or energy type over its covered time in the period."""

    kind: str
    name: str
    kwh: float
    coverage_ratio: float
    share: float | None  # its mean power / the facility's mean power over their covered times


@dataclass(frozen=True)
class AuditFindings:
    report_number: str
    register: tuple[tuple[MeterRow, bool], ...]  # (meter, past calibration at the period's end)
    bills: tuple[BillCheck, ...]
    bills_outside: int
    tags: tuple[TagEnergy, ...]
    unmetered_remainder_kwh: float | None
    rows_used: int
    rows_sha256: str
    software: dict[str, str]
    period_end: date

    @property
    def overdue(self) -> int:
        return sum(1 for _meter, past in self.register if past)


def rollup_sha256(rollups: Sequence[SiteRollup]) -> str:
    """SHA-256 of the hourly rows as used (every stored number as an IEEE double, sets sorted): the same
    rows give the same hash on any machine; any changed value, row or term changes it."""
    digest = hashlib.sha256()
    for r in rollups:
        numbers = (r.start_s, r.resolution_s, r.duration_s, r.covered_s, r.facility_j, r.it_j)
        digest.update(struct.pack("<6d", *numbers))
        digest.update(struct.pack("<2d", r.cooling_covered_s, r.cooling_j))
        digest.update(("|".join(sorted(r.methods)) + ";" + ",".join(map(str, sorted(r.it_categories)))).encode())
        digest.update((";" + "|".join(sorted(r.sources))).encode())
        for name in sorted(r.conditions):
            digest.update(name.encode() + struct.pack("<d", r.conditions[name]))
        digest.update(struct.pack("<d", float("nan") if r.max_inlet_c is None else r.max_inlet_c))
        for term in sorted(r.terms):
            covered, value = r.terms[term]
            digest.update(term.encode() + struct.pack("<2d", covered, value))
    return digest.hexdigest()


def _software() -> dict[str, str]:
    import matplotlib

    try:
        version = metadata.version("pue-agent")
    except metadata.PackageNotFoundError:
        version = "unknown (not installed)"
    return {"version": version, "python": platform.python_version(), "matplotlib": matplotlib.__version__}


def _local_day_start(day: date, tz: tzinfo) -> float:
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def _bill_check(rollups: Sequence[SiteRollup], bill: UtilityBill, tz: tzinfo) -> BillCheck:
    lo = _local_day_start(bill.start, tz)
    hi = _local_day_start(bill.end + timedelta(days=1), tz)
    hours = [r for r in rollups if lo <= r.start_s < hi]
    grid = tag_term("energy_type", DEFAULT_ENERGY_TYPE)
    if any(grid in r.terms for r in hours):
        covered = sum(r.terms.get(grid, (0.0, 0.0))[0] for r in hours)
        metered_j = sum(r.terms.get(grid, (0.0, 0.0))[1] for r in hours)
        basis = "tag"
    else:
        covered = sum(r.covered_s for r in hours)
        metered_j = sum(r.facility_j - r.terms.get("renewable_j", (0.0, 0.0))[1] for r in hours)
        basis = "fallback"
    return BillCheck(bill, metered_j / 3.6e6, covered / (hi - lo), basis)


def _tags(rollups: Sequence[SiteRollup], length_s: float) -> tuple[list[TagEnergy], float | None]:
    facility_j = sum(r.facility_j for r in rollups)
    facility_s = sum(r.covered_s for r in rollups)
    facility_w = facility_j / facility_s if facility_s > 0 else None
    found = sorted(
        {tag for r in rollups for tag in map(parse_tag_term, r.terms) if tag is not None},
        key=lambda tag: (TAG_KINDS.index(tag[0]), tag[1]),
    )
    out = []
    for kind, name in found:
        term = tag_term(kind, name)
        covered = sum(r.terms.get(term, (0.0, 0.0))[0] for r in rollups)
        value_j = sum(r.terms.get(term, (0.0, 0.0))[1] for r in rollups)
        share = value_j / covered / facility_w if covered > 0 and facility_w else None
        out.append(TagEnergy(kind, name, value_j / 3.6e6, covered / length_s, share))
    subsystems = [t for t in out if t.kind == "subsystem" and t.name != "it"]
    remainder = None
    if subsystems and all(abs(t.coverage_ratio * length_s - facility_s) < 1.0 for t in subsystems):
        it_j = sum(r.it_j for r in rollups)
        remainder = (facility_j - it_j) / 3.6e6 - sum(t.kwh for t in subsystems)
    return out, remainder


def audit_findings(
    store: HistoryStore, report: PeriodReport, ctx: AuditContext, report_number: str | None = None
) -> AuditFindings:
    """Check ``ctx`` against the hourly history of ``report``'s period (see the module doc)."""
    tz = zone(report.timezone)
    rollups = store.site_rollups(3600, report.start_s, report.end_s)
    sha = rollup_sha256(rollups)
    end_day = (datetime.fromtimestamp(report.end_s, tz=tz) - timedelta(seconds=1)).date()
    start_day = datetime.fromtimestamp(report.start_s, tz=tz).date()
    if report_number is None:
        label = start_day.strftime("%Y%m%d") + "-" + end_day.strftime("%Y%m%d")
        report_number = f"{ctx.report_number_prefix or 'PUE'}-{label}-{sha[:8].upper()}"
    in_period = [b for b in ctx.bills if b.start >= start_day and b.end <= end_day]
    bill_rollups = store.site_rollups(3600, report.start_s - 86400, report.end_s + 86400) if in_period else []
    tags, remainder = _tags(rollups, report.end_s - report.start_s)
    return AuditFindings(
        report_number=report_number,
        register=tuple((m, m.calibration_due < end_day) for m in ctx.meters),
        bills=tuple(_bill_check(bill_rollups, b, tz) for b in sorted(in_period, key=lambda b: b.start)),
        bills_outside=len(ctx.bills) - len(in_period),
        tags=tuple(tags),
        unmetered_remainder_kwh=remainder,
        rows_used=len(rollups),
        rows_sha256=sha,
        software=_software(),
        period_end=end_day,
    )


def generated_at() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M")
