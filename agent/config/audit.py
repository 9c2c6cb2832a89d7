"""What an audit report needs beyond the topology: the meter register, utility bills and the tag tables.

The ONE table of sub-systems (:data:`SUBSYSTEMS`) and of energy types (:data:`ENERGY_TYPES`): a topology
term may carry ``subsystem``, ``unit`` (a hall or building, any name) and, on facility terms,
``energy_type``; the history writer stores the energy of each tag as a term of its own
(:func:`tag_term`), the export writes it as ``<kind>_<name>_energy_kwh`` / ``<kind>_<name>_coverage``
columns and the report prints energy by sub-system, by unit and by energy type with each one's coverage.

Example::

    meters:                                  # the meter register (GB 17167: id, location, accuracy,
      - id: M-01                             # ratio, calibration) printed by the report
        device: meter-main                   # boundary and sub-system come from the topology
        location: 10 kV incomer, switch room B1
        accuracy_class: 0.5S
        ct_ratio: 1000/5
        vt_ratio: 10000/100
        calibrated: 2026-03-01
        calibration_due: 2027-03-01
      - {id: UTIL-1, location: grid company revenue meter, boundary: facility, accuracy_class: 0.2S,
         calibrated: 2025-06-01, calibration_due: 2027-06-01}   # not polled: boundary given
    bills:                                   # reconciled against the metered grid electricity
      - {start: 2026-01-01, end: 2026-01-31, kwh: 812345, number: GZ-2026-01}
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from agent.config.base import StrictModel
from agent.config.tags import TAG_KINDS, parse_tag_column, parse_tag_term, tag_column, tag_term

__all__ = [
    "ENERGY_TYPES",
    "SUBSYSTEMS",
    "TAG_KINDS",
    "EnergyType",
    "MeterEntry",
    "Subsystem",
    "UtilityBill",
    "parse_tag_column",
    "parse_tag_term",
    "tag_column",
    "tag_term",
]

#: sub-systems a meter may be tagged with (Guizhou plan: metering by sub-system); translated in
#: :mod:`agent.reports.i18n` (``subsystem.<name>``)
SUBSYSTEMS: tuple[str, ...] = (
    "chillers",
    "cooling_towers",
    "pumps",
    "crah_fans",
    "crac_units",
    "dry_coolers",
    "humidifiers",
    "lighting",
    "ups_losses",
    "pdu_losses",
    "transformer_losses",
    "auxiliaries",
    "offices",
    "it",
)
Subsystem = Literal[
    "chillers",
    "cooling_towers",
    "pumps",
    "crah_fans",
    "crac_units",
    "dry_coolers",
    "humidifiers",
    "lighting",
    "ups_losses",
    "pdu_losses",
    "transformer_losses",
    "auxiliaries",
    "offices",
    "it",
]

#: energy types of the facility energy (metering by energy type): each facility term is one of them,
#: ``grid_electricity`` unless tagged otherwise; the utility bills are reconciled against it
ENERGY_TYPES: tuple[str, ...] = ("grid_electricity", "onsite_renewable", "diesel_generation", "other_electricity")
EnergyType = Literal["grid_electricity", "onsite_renewable", "diesel_generation", "other_electricity"]
DEFAULT_ENERGY_TYPE = "grid_electricity"

TagName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class MeterEntry(StrictModel):
    """One meter of the register. With ``device`` the boundary, sub-system and unit it measures are read
    from the topology (giving them again is an error: one source); without, ``boundary`` is required."""

    id: TagName = Field(description="the meter's id on site (its label, the register's key)")
    device: str | None = Field(default=None, description="the configured device this meter is")
    location: str = Field(min_length=1, description="where it is installed")
    measures: str | None = Field(default=None, description="what it measures, in words (optional)")
    boundary: Literal["facility", "it", "cooling", "distribution", "renewable", "reuse", "water", "other"] | None = (
        Field(default=None, description="meters without a device: the boundary it measures")
    )
    subsystem: Subsystem | None = Field(default=None, description="meters without a device: its sub-system")
    unit: TagName | None = Field(default=None, description="meters without a device: its hall or building")
    accuracy_class: str = Field(min_length=1, description="e.g. 0.5S, 1, 2 (IEC 62053 / GB/T 17215)")
    ct_ratio: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?/\d+(\.\d+)?$", description="e.g. 1000/5")
    vt_ratio: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?/\d+(\.\d+)?$", description="e.g. 10000/100")
    calibrated: date = Field(description="date of the last calibration or verification (检定)")
    calibration_due: date = Field(description="date the next is due: after it, the meter is flagged")

    @model_validator(mode="after")
    def _consistent(self) -> MeterEntry:
        if self.calibration_due <= self.calibrated:
            raise ValueError(f"calibration_due {self.calibration_due} must be after calibrated {self.calibrated}")
        if self.device is not None and (self.boundary or self.subsystem or self.unit):
            raise ValueError(
                "a meter with a device takes its boundary, subsystem and unit from the topology: "
                "tag the topology term instead"
            )
        if self.device is None and self.boundary is None:
            raise ValueError("a meter without a device needs boundary (what it measures)")
        return self


class UtilityBill(StrictModel):
    """One utility (grid electricity) bill: its period (dates, both included) and billed energy."""

    start: date = Field(description="first day of the bill (site.timezone)")
    end: date = Field(description="last day of the bill, included")
    kwh: float = Field(ge=0, allow_inf_nan=False, description="billed grid electricity [kWh]")
    number: str | None = Field(default=None, description="the bill's number")

    @model_validator(mode="after")
    def _ordered(self) -> UtilityBill:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


def check_register(meters: tuple[MeterEntry, ...], bills: tuple[UtilityBill, ...], device_names: set[str]) -> list[str]:
    """Cross-references of the register and bills: unknown devices, duplicate ids, overlapping bills."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, meter in enumerate(meters):
        if meter.id in seen:
            problems.append(f"meters[{i}].id: meter id {meter.id!r} used more than once")
        seen.add(meter.id)
        if meter.device is not None and meter.device not in device_names:
            problems.append(f"meters[{i}].device: no device named {meter.device!r}")
    ordered = sorted(enumerate(bills), key=lambda ib: ib[1].start)
    for (_i, a), (j, b) in itertools.pairwise(ordered):
        if b.start <= a.end:
            problems.append(f"bills[{j}]: period {b.start}..{b.end} overlaps the bill {a.start}..{a.end}")
    return problems
