"""Profile draft: the proposed objects and the draft, with the number formatting the comments share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.devices.snmp.draft.walk import TYPE_BY_KIND
from agent.devices.snmp.seam import SnmpValue


@dataclass(slots=True)
class DraftObject:
    """One proposed profile object and the comments that go with it."""

    quantity: str
    type: str
    source: str  # MIB::name, or a description of where it was found
    oid: str | None = None
    column: str | None = None
    index: list[tuple[str, int | None]] = field(default_factory=list)  # (label, None) or ("", equals)
    labels: dict[str, str] = field(default_factory=dict)
    scale: float = 1.0
    offset: float = 0.0
    decimals_column: str | None = None
    decimals_source: str = ""
    valid_min: float | None = None
    valid_max: float | None = None
    writable_step: float | None = None
    optional: bool = False
    comments: list[str] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)  # canonical values seen in the walk
    score: float = 0.0  # preference among candidates for one device total
    text: str = ""  # name and DESCRIPTION, for choosing among candidates

    @property
    def key(self) -> str:
        return self.oid or self.column or ""


@dataclass(slots=True)
class Draft:
    name: str
    kind: str
    sys_object_id: str
    sys_descr: str
    objects: list[DraftObject]
    skipped: list[str]  # candidates not used, each a comment line
    mib_modules: tuple[str, ...]  # the MIB modules that named an object of the draft
    input_note: str
    kind_reason: str
    notes: list[str] = field(default_factory=list)


def value_number(v: SnmpValue) -> float | None:
    if v.kind in TYPE_BY_KIND and isinstance(v.value, int):
        return float(v.value)
    return None


def fmt(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def scale_text(scale: float) -> str:
    return fmt(round(scale, 12))


def ceiling(samples: Sequence[float]) -> tuple[float, str]:
    seen = max((abs(s) for s in samples), default=0.0)
    guess = max(10 * seen, 10000.0)
    magnitude = 10 ** math.floor(math.log10(guess))
    ceiling = math.ceil(guess / magnitude) * magnitude
    return ceiling, (
        f"guess: 10x the largest value seen ({fmt(round(seen, 3))}), at least 10 kW; set the device's rating"
    )
