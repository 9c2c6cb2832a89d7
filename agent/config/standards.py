"""Grade limits, national PUE targets and the standards reports cite: ``agent/data/pue_targets.yaml``.

Dated data with their source, read by the reports (:mod:`agent.reports.compliance`). A new plan or
edition is a new entry; an old one stays, marked ``superseded`` with the date.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["STANDARDS_FILE", "GradeTable", "Standards", "Target", "load_standards"]

STANDARDS_FILE = Path(__file__).resolve().parent.parent / "data" / "pue_targets.yaml"


@dataclass(frozen=True)
class GradeTable:
    """A grading standard: upper limits of grades 1, 2 and 3 over a period of ``period_months``."""

    key: str
    cite: str
    title: str
    title_zh: str
    issued: str
    effective: str
    metric: str
    metric_zh: str
    period_months: int
    comparison: str
    limits: tuple[float, float, float]
    unverified: str | None


@dataclass(frozen=True)
class Target:
    """A published PUE target: ``value`` with its ``comparison`` as worded, and where it applies."""

    key: str
    value: float
    comparison: str
    applies_to: str
    applies_to_zh: str
    publication: str
    publication_zh: str
    date: str
    superseded: str | None
    unverified: str | None

    def holds(self, pue: float) -> bool:
        """Whether ``pue`` satisfies the target as worded (``<=`` or ``<``)."""
        if self.comparison == "<=":
            return pue <= self.value + 1e-12
        if self.comparison == "<":
            return pue < self.value
        raise ValueError(f"target {self.key}: unknown comparison {self.comparison!r}")


@dataclass(frozen=True)
class Standards:
    version: str
    pue_cite: str
    pue_replaces: str
    ref_cite: str
    grade: GradeTable
    targets: tuple[Target, ...]

    @property
    def current_targets(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.superseded is None)

    @property
    def superseded_targets(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.superseded is not None)


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


@functools.lru_cache(maxsize=2)
def load_standards(path: Path = STANDARDS_FILE) -> Standards:
    """The shipped table of standards, grade limits and targets."""
    # libyaml's parser when present (the same safe constructor): the pure-Python one took 0.18 s of an annual
    # report's 0.3 s of reading on a busy machine; the table it gives is the same (compared)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    key, grade = next(iter(data["grades"].items()))
    limits = grade["limits"]
    return Standards(
        version=str(data["version"]),
        pue_cite=str(data["standards"]["pue"]["cite"]),
        pue_replaces=str(data["standards"]["pue"]["replaces"]),
        ref_cite=str(data["standards"]["ref"]["cite"]),
        grade=GradeTable(
            key=str(key),
            cite=str(grade["cite"]),
            title=str(grade["title"]),
            title_zh=str(grade["title_zh"]),
            issued=str(grade["issued"]),
            effective=str(grade["effective"]),
            metric=str(grade["metric"]),
            metric_zh=str(grade["metric_zh"]),
            period_months=int(str(grade["period"]).split()[0]),
            comparison=str(grade["comparison"]),
            limits=(float(limits[1]), float(limits[2]), float(limits[3])),
            unverified=_optional(grade.get("unverified")),
        ),
        targets=tuple(
            Target(
                key=str(t["key"]),
                value=float(t["value"]),
                comparison=str(t["comparison"]),
                applies_to=str(t["applies_to"]),
                applies_to_zh=str(t["applies_to_zh"]),
                publication=str(t["publication"]),
                publication_zh=str(t["publication_zh"]),
                date=str(t["date"]),
                superseded=_optional(t.get("superseded")),
                unverified=_optional(t.get("unverified")),
            )
            for t in data["targets"]
        ),
    )
