"""The PUE family over a period, from interval energies (pure).

The history store hands over a series of intervals (rollup buckets or raw site ticks), each with the
time it spans, the part of it for which every facility and IT contributor was metered ("covered"),
and the energies over that covered time. Everything here is arithmetic on those arrays: the
coverage of a period, the gaps in it, PUE and DCiE, partial PUE for cooling and for the remainder
(power distribution losses, lighting, other), ERE/ERF/REF/WUE, and the grade under GB 40879-2021
(whose limits, like the national targets, are dated data in ``agent/data/pue_targets.yaml``). Carbon
(CUE, tCO2, REF with certificates) is :mod:`models.carbon`.

A period's PUE is computed over its covered time only (numerator and denominator over the same
time) and is withheld, with the reason, when coverage falls below ``min_coverage``: it is never
computed across gaps silently; the gaps are returned with it.

References
----------
ISO/IEC 30134-2:2026 (edition 2, replacing the withdrawn 2016 edition), Data centres key performance
indicators - Part 2: Power usage effectiveness (PUE).
The Green Grid, White Paper 49, "PUE: a comprehensive examination of the metric" (2012).
The Green Grid, White Paper 29, "ERE: a metric for measuring the benefit of reuse energy" (2010).
The Green Grid, White Paper 35, "Water usage effectiveness (WUE)" (2011).
ISO/IEC 30134-3:2016 (REF), ISO/IEC 30134-6:2021 (ERF).
GB 40879-2021, 数据中心能效限定值及能效等级 (energy efficiency limits and grades of data centres).

One module (over 400 lines): the PUE family is arithmetic on the same interval arrays, with its references; half of
it is docstrings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "J_PER_KWH",
    "Gap",
    "IntervalSeries",
    "PeriodMetrics",
    "ZoneMetrics",
    "dcie_percent",
    "ere",
    "erf",
    "find_gaps",
    "gb40879_grade",
    "period_metrics",
    "ppue",
    "ref",
    "wue",
]

J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class IntervalSeries:
    """Intervals of site energy, arrays of one length.

    Attributes
    ----------
    start_s : interval start [s since the epoch]
    duration_s : interval length [s]
    covered_s : time within the interval with complete facility and IT data [s]
    facility_j, it_j : energy over the covered time [J]
    cooling_covered_s : covered time for which the cooling terms were complete too [s]
    cooling_j : cooling energy over ``cooling_covered_s`` [J]
    terms : optional boundaries, name -> (covered time [s], amount over it), arrays like the others:
        ``distribution_j``, ``renewable_j``, ``reused_heat_j`` and ``water_m3`` (amounts over the part
        of the facility/IT covered time their meters were complete too), ``zone:<name>:it_j`` and
        ``zone:<name>:overhead_j`` (over the time both of that zone's boundaries were complete)
    """

    start_s: NDArray[np.float64]
    duration_s: NDArray[np.float64]
    covered_s: NDArray[np.float64]
    facility_j: NDArray[np.float64]
    it_j: NDArray[np.float64]
    cooling_covered_s: NDArray[np.float64]
    cooling_j: NDArray[np.float64]
    terms: Mapping[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = field(default_factory=dict)

    @classmethod
    def from_arrays(
        cls,
        start_s: ArrayLike,
        duration_s: ArrayLike,
        covered_s: ArrayLike,
        facility_j: ArrayLike,
        it_j: ArrayLike,
        cooling_covered_s: ArrayLike | None = None,
        cooling_j: ArrayLike | None = None,
        terms: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
    ) -> IntervalSeries:
        start = np.asarray(start_s, dtype=float)
        n = start.size
        zeros = np.zeros(n)
        return cls(
            start,
            np.asarray(duration_s, dtype=float),
            np.asarray(covered_s, dtype=float),
            np.asarray(facility_j, dtype=float),
            np.asarray(it_j, dtype=float),
            zeros if cooling_covered_s is None else np.asarray(cooling_covered_s, dtype=float),
            zeros if cooling_j is None else np.asarray(cooling_j, dtype=float),
            {name: (np.asarray(c, dtype=float), np.asarray(v, dtype=float)) for name, (c, v) in (terms or {}).items()},
        )

    def __len__(self) -> int:
        return int(self.start_s.size)

    def between(self, start_s: float, end_s: float) -> IntervalSeries:
        """The intervals that start within ``[start_s, end_s)``."""
        keep = (self.start_s >= start_s) & (self.start_s < end_s)
        return IntervalSeries(
            self.start_s[keep],
            self.duration_s[keep],
            self.covered_s[keep],
            self.facility_j[keep],
            self.it_j[keep],
            self.cooling_covered_s[keep],
            self.cooling_j[keep],
            {name: (c[keep], v[keep]) for name, (c, v) in self.terms.items()},
        )


@dataclass(frozen=True, slots=True)
class Gap:
    """A span of the period without complete facility and IT data.

    ``missing_s`` can be less than ``end_s - start_s`` where the span holds partly covered intervals.
    """

    start_s: float
    end_s: float
    missing_s: float


@dataclass(frozen=True)
class ZoneMetrics:
    """Partial PUE of one zone over a period: (zone overhead + zone IT) / zone IT.

    Energies [kWh] over the time both of the zone's boundaries were complete; ``ppue`` is withheld
    (``reason``) below the period's minimum coverage.
    """

    zone: str
    coverage_ratio: float
    it_kwh: float
    overhead_kwh: float
    ppue: float | None
    reason: str | None


@dataclass(frozen=True)
class PeriodMetrics:
    """The PUE family over one period. Energies [kWh] are over the covered time only.

    ``ppue_distribution`` is (energy into power distribution) / IT energy, given with a metered
    ``distribution`` boundary. The optional boundaries (``distribution_kwh``, ``renewable_kwh``,
    ``reused_heat_kwh``, ``water_m3`` and the ratios REF, ERF, ERE, WUE from them) are None when
    the topology has no such meter, or when its meter was not complete over all of the covered
    time (``notes`` then says so): never a ratio of amounts over different times.
    """

    start_s: float
    end_s: float
    coverage_ratio: float
    gaps: tuple[Gap, ...]
    facility_kwh: float
    it_kwh: float
    cooling_kwh: float | None
    other_kwh: float | None
    pue: float | None
    reason: str | None
    dcie_percent: float | None
    ppue_cooling: float | None
    ppue_other: float | None
    distribution_kwh: float | None = None
    ppue_distribution: float | None = None
    renewable_kwh: float | None = None
    reused_heat_kwh: float | None = None
    water_m3: float | None = None
    ref: float | None = None
    erf: float | None = None
    ere: float | None = None
    wue_l_per_kwh: float | None = None
    zones: tuple[ZoneMetrics, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.pue is not None


def find_gaps(
    start_s: ArrayLike,
    duration_s: ArrayLike,
    covered_s: ArrayLike,
    period_start_s: float,
    period_end_s: float,
    tolerance_s: float = 1e-6,
) -> tuple[Gap, ...]:
    """Spans of ``[period_start_s, period_end_s)`` not fully covered, adjacent spans merged.

    Parameters
    ----------
    start_s, duration_s, covered_s : interval starts, lengths and covered times [s]
    period_start_s, period_end_s : the period [s]
    tolerance_s : shortfalls up to this are not gaps [s]

    Returns
    -------
    tuple of Gap
        Time with no interval at all, and intervals whose covered time falls short of their length.
    """
    starts = np.asarray(start_s, dtype=float)
    order = np.argsort(starts, kind="stable")
    # Python floats in start order: the same arithmetic as on the array elements, without a numpy scalar each
    begins = starts[order].tolist()
    durations = np.asarray(duration_s, dtype=float)[order].tolist()
    covereds = np.asarray(covered_s, dtype=float)[order].tolist()
    spans: list[tuple[float, float, float]] = []
    cursor = period_start_s
    for begin, duration, covered in zip(begins, durations, covereds, strict=True):
        end = min(begin + duration, period_end_s)
        if end <= period_start_s or begin >= period_end_s:
            continue
        if begin - cursor > tolerance_s:
            spans.append((cursor, begin, begin - cursor))
        shortfall = duration - covered
        if shortfall > tolerance_s:
            spans.append((max(begin, period_start_s), end, min(shortfall, end - max(begin, period_start_s))))
        cursor = max(cursor, end)
    if period_end_s - cursor > tolerance_s:
        spans.append((cursor, period_end_s, period_end_s - cursor))
    merged: list[Gap] = []
    for begin, end, missing in spans:
        if merged and begin - merged[-1].end_s <= tolerance_s:
            last = merged[-1]
            merged[-1] = Gap(last.start_s, end, last.missing_s + missing)
        else:
            merged.append(Gap(begin, end, missing))
    return tuple(merged)


def ppue(subsystem_kwh: float, it_kwh: float) -> float | None:
    """Partial PUE of one subsystem: (E_subsystem + E_IT) / E_IT [-].

    Parameters
    ----------
    subsystem_kwh : energy of the subsystem (cooling, power distribution, a zone's overhead) [kWh]
    it_kwh : IT energy within the same boundary and period [kWh]

    References
    ----------
    The Green Grid, White Paper 49 (2012), section on partial PUE.
    """
    if it_kwh <= 0 or subsystem_kwh < 0:
        return None
    return (subsystem_kwh + it_kwh) / it_kwh


def dcie_percent(pue: float | None) -> float | None:
    """Data centre infrastructure efficiency, DCiE = 100 / PUE [%] (The Green Grid)."""
    return None if pue is None or pue <= 0 else 100.0 / pue


def period_metrics(series: IntervalSeries, start_s: float, end_s: float, min_coverage: float = 0.95) -> PeriodMetrics:
    """PUE, DCiE, pPUE and the energy breakdown of ``[start_s, end_s)``.

    Parameters
    ----------
    series : intervals; those starting within the period count
    start_s, end_s : the period [s]
    min_coverage : below this share of the period with complete data, PUE is withheld [-]

    Returns
    -------
    PeriodMetrics
        Energies over the covered time [kWh], coverage [-], gaps, PUE or the reason it is withheld.
        Cooling and "other" (facility - IT - cooling: distribution losses, lighting, misc) are given
        only when cooling was metered for all of the covered time.

    References
    ----------
    ISO/IEC 30134-2 (PUE from energies over the same period).
    """
    if end_s <= start_s:
        raise ValueError("the period must end after it starts")
    part = series.between(start_s, end_s)
    covered = math.fsum(part.covered_s.tolist())
    coverage = covered / (end_s - start_s)
    gaps = find_gaps(part.start_s, part.duration_s, part.covered_s, start_s, end_s)
    facility_kwh = math.fsum(part.facility_j.tolist()) / J_PER_KWH
    it_kwh = math.fsum(part.it_j.tolist()) / J_PER_KWH
    cooling_complete = covered > 0 and abs(math.fsum(part.cooling_covered_s.tolist()) - covered) <= 1e-6 * covered
    cooling_kwh = math.fsum(part.cooling_j.tolist()) / J_PER_KWH if cooling_complete else None
    other_kwh = facility_kwh - it_kwh - cooling_kwh if cooling_kwh is not None else None
    pue: float | None = None
    reason: str | None = None
    if covered <= 0:
        reason = "no complete data in the period"
    elif coverage < min_coverage:
        reason = (
            f"coverage {coverage:.1%} is below the {min_coverage:.0%} required "
            f"({len(gaps)} gap(s), {(end_s - start_s - covered) / 3600:.1f} h missing)"
        )
    elif it_kwh <= 0:
        reason = "IT energy is zero"
    elif facility_kwh < it_kwh:
        reason = f"facility below IT (ratio {facility_kwh / it_kwh:.3f}): check topology and meters"
    else:
        pue = facility_kwh / it_kwh
    valid = pue is not None
    amounts: dict[str, float | None] = {}
    notes: list[str] = []
    for name, label in (
        ("distribution_j", "power distribution"),
        ("renewable_j", "renewable energy"),
        ("reused_heat_j", "reused heat"),
        ("water_m3", "water"),
    ):
        if name not in part.terms:
            amounts[name] = None
            continue
        term_covered, value = part.terms[name]
        share = math.fsum(term_covered.tolist()) / covered if covered > 0 else 0.0
        if covered > 0 and abs(share - 1.0) <= 1e-6:
            amounts[name] = math.fsum(value.tolist())
        else:
            amounts[name] = None
            notes.append(
                f"{label} withheld: its meter covered {share:.1%} of the time with complete facility and IT data"
            )
    distribution_kwh = None if amounts["distribution_j"] is None else amounts["distribution_j"] / J_PER_KWH
    renewable_kwh = None if amounts["renewable_j"] is None else amounts["renewable_j"] / J_PER_KWH
    reused_kwh = None if amounts["reused_heat_j"] is None else amounts["reused_heat_j"] / J_PER_KWH
    water_m3 = amounts["water_m3"]
    return PeriodMetrics(
        start_s=start_s,
        end_s=end_s,
        coverage_ratio=coverage,
        gaps=gaps,
        facility_kwh=facility_kwh,
        it_kwh=it_kwh,
        cooling_kwh=cooling_kwh,
        other_kwh=other_kwh,
        pue=pue,
        reason=reason,
        dcie_percent=dcie_percent(pue),
        ppue_cooling=ppue(cooling_kwh, it_kwh) if valid and cooling_kwh is not None else None,
        ppue_other=ppue(other_kwh, it_kwh) if valid and other_kwh is not None and other_kwh >= 0 else None,
        distribution_kwh=distribution_kwh,
        ppue_distribution=(
            distribution_kwh / it_kwh if valid and distribution_kwh is not None and distribution_kwh >= it_kwh else None
        ),
        renewable_kwh=renewable_kwh,
        reused_heat_kwh=reused_kwh,
        water_m3=water_m3,
        ref=ref(renewable_kwh, facility_kwh) if valid and renewable_kwh is not None else None,
        erf=erf(reused_kwh, facility_kwh) if valid and reused_kwh is not None else None,
        ere=ere(facility_kwh, reused_kwh, it_kwh) if valid and reused_kwh is not None else None,
        wue_l_per_kwh=wue(1000.0 * water_m3, it_kwh) if valid and water_m3 is not None else None,
        zones=_zone_metrics(part, start_s, end_s, min_coverage),
        notes=tuple(notes),
    )


def _zone_metrics(part: IntervalSeries, start_s: float, end_s: float, min_coverage: float) -> tuple[ZoneMetrics, ...]:
    """Per-zone pPUE over the period from the ``zone:<name>:it_j`` / ``overhead_j`` terms."""
    out = []
    zones = sorted({name.split(":")[1] for name in part.terms if name.startswith("zone:")})
    for zone in zones:
        it_term = part.terms.get(f"zone:{zone}:it_j")
        overhead_term = part.terms.get(f"zone:{zone}:overhead_j")
        if it_term is None or overhead_term is None:
            continue
        covered = math.fsum(it_term[0].tolist())
        coverage = covered / (end_s - start_s)
        it_kwh = math.fsum(it_term[1].tolist()) / J_PER_KWH
        overhead_kwh = math.fsum(overhead_term[1].tolist()) / J_PER_KWH
        reason: str | None = None
        if covered <= 0:
            reason = "no complete data for the zone in the period"
        elif coverage < min_coverage:
            reason = f"zone coverage {coverage:.1%} is below the {min_coverage:.0%} required"
        elif it_kwh <= 0:
            reason = "zone IT energy is zero"
        out.append(
            ZoneMetrics(zone, coverage, it_kwh, overhead_kwh, None if reason else ppue(overhead_kwh, it_kwh), reason)
        )
    return tuple(out)


def ere(facility_kwh: float, reused_kwh: float, it_kwh: float) -> float:
    """Energy reuse effectiveness, ERE = (E_DC - E_reused) / E_IT [-] (The Green Grid WP 29)."""
    if it_kwh <= 0:
        raise ValueError("IT energy must be positive")
    return (facility_kwh - reused_kwh) / it_kwh


def erf(reused_kwh: float, facility_kwh: float) -> float:
    """Energy reuse factor, ERF = E_reused / E_DC [-] (ISO/IEC 30134-6)."""
    if facility_kwh <= 0:
        raise ValueError("facility energy must be positive")
    return reused_kwh / facility_kwh


def ref(renewable_kwh: float, facility_kwh: float) -> float:
    """Renewable energy factor, REF = E_renewable / E_DC [-] (ISO/IEC 30134-3)."""
    if facility_kwh <= 0:
        raise ValueError("facility energy must be positive")
    return renewable_kwh / facility_kwh


def wue(site_water_l: float, it_kwh: float) -> float:
    """Water usage effectiveness, WUE = site water / E_IT [L/kWh] (The Green Grid WP 35, 2011)."""
    if it_kwh <= 0:
        raise ValueError("IT energy must be positive")
    return site_water_l / it_kwh


def gb40879_grade(pue: float | None, thresholds: Sequence[float]) -> int | None:
    """Grade 1, 2 or 3 under GB 40879-2021; 0 means above the grade 3 limit value; None without a PUE.

    Only meaningful for the annual electric energy ratio; the caller decides that the period is one.

    Parameters
    ----------
    pue : the annual electric energy ratio (RM2: annual data-centre / IT electricity) [-]
    thresholds : upper bounds (``<=``) of grades 1, 2 and 3, increasing [-]
        (``agent/data/pue_targets.yaml``)
    """
    if len(thresholds) != 3 or list(thresholds) != sorted(thresholds):
        raise ValueError("thresholds must be three increasing values (grade 1, 2, 3)")
    if pue is None:
        return None
    for grade, limit in enumerate(thresholds, start=1):
        if pue <= limit + 1e-12:
            return grade
    return 0
