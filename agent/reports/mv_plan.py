"""The M&V plan of a savings report: ECM description, measurement boundary, non-routine adjustments.

A YAML file (``pue-agent report --mv-plan plan.yaml``), strict like every file an operator writes::

    ecm: "Supply-air and chilled-water setpoints reset by the optimiser from 2026-07-02"
    boundary: "Whole facility: utility meter at the 10 kV incomer; IT at the UPS outputs (category 1)"
    adjustments:
      - period: 2026-08-01..2026-08-15
        kwh: 12000
        description: "load bank test in hall B, not caused by the measure"
        standard_uncertainty_kwh: 500     # optional, default 0

An adjustment's ``kwh`` is added to the adjusted baseline (IPMVP's non-routine adjustment): positive
when the reporting period carries extra load the baseline did not have and the measure did not cause.
The same can be given on the command line (``--ecm``, ``--boundary``, ``--adjustment
PERIOD KWH DESCRIPTION``); command-line values are added to (adjustments) or replace (texts) the file's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, tzinfo
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config.strict_yaml import YamlFileError, read_yaml
from agent.errors import ConfigError, HistoryQueryError
from agent.reports.periods import parse_period

__all__ = ["NO_PLAN", "MvPlan", "NonRoutineAdjustment", "load_mv_plan", "parse_adjustment"]


@dataclass(frozen=True)
class NonRoutineAdjustment:
    """kWh added to the adjusted baseline over ``start_s``..``end_s``, with why."""

    start_s: float
    end_s: float
    kwh: float
    description: str
    standard_uncertainty_kwh: float = 0.0


@dataclass(frozen=True)
class MvPlan:
    ecm: str | None = None
    boundary: str | None = None
    adjustments: tuple[NonRoutineAdjustment, ...] = ()


#: No ECM text, no boundary text, no adjustments.
NO_PLAN = MvPlan()


class _AdjustmentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    period: str = Field(min_length=1)
    kwh: float = Field(allow_inf_nan=False)
    description: str = Field(min_length=1)
    standard_uncertainty_kwh: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)


class _PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ecm: str | None = Field(default=None, min_length=1)
    boundary: str | None = Field(default=None, min_length=1)
    adjustments: list[_AdjustmentFile] = []


def load_mv_plan(path: Path, tz: tzinfo) -> MvPlan:
    """Read an M&V plan file; periods are in ``tz`` like the report's.

    Raises
    ------
    ConfigError
        unreadable file, unknown key, bad value or period (every problem, with file and key).
    """
    where = str(path)
    try:
        data = read_yaml(path)
    except YamlFileError as err:
        raise ConfigError([str(err)]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: <top>: an M&V plan must be a YAML mapping"])
    for item in data.get("adjustments") or []:
        if not isinstance(item, dict):
            continue
        for key in ("kwh", "standard_uncertainty_kwh"):  # YAML reads 12000 as an int: strict floats refuse it
            if isinstance(item.get(key), int) and not isinstance(item.get(key), bool):
                item[key] = float(item[key])
        if isinstance(item.get("period"), date):  # a bare 2026-08-01 is a YAML date: the one day
            item["period"] = item["period"].isoformat()
    try:
        plan = _PlanFile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(
            [
                f"{where}: {'.'.join(str(p) for p in e['loc']) or '<top>'}: "
                + ("unknown key (not allowed here)" if e["type"] == "extra_forbidden" else str(e["msg"]))
                for e in err.errors()
            ]
        ) from None
    adjustments, problems = [], []
    for i, a in enumerate(plan.adjustments):
        try:
            start, end = parse_period(a.period, tz)
        except HistoryQueryError as err:
            problems.append(f"{where}: adjustments.{i}.period: {err}")
            continue
        adjustments.append(NonRoutineAdjustment(start, end, a.kwh, a.description, a.standard_uncertainty_kwh))
    if problems:
        raise ConfigError(problems)
    return MvPlan(plan.ecm, plan.boundary, tuple(adjustments))


def parse_adjustment(period: str, kwh_text: str, description: str, tz: tzinfo) -> NonRoutineAdjustment:
    """``--adjustment PERIOD KWH DESCRIPTION`` from the command line, e.g. ``2026-08-01..2026-08-15 12000 "load bank"``.

    Raises
    ------
    HistoryQueryError
        a bad period, a kWh that is not a finite number, an empty description.
    """
    try:
        kwh = float(kwh_text)
    except ValueError:
        raise HistoryQueryError(f"--adjustment: kWh {kwh_text!r} is not a number") from None
    if not math.isfinite(kwh):
        raise HistoryQueryError(f"--adjustment: kWh {kwh_text!r} must be finite")
    if not description.strip():
        raise HistoryQueryError("--adjustment: give a description of the adjustment")
    start, end = parse_period(period, tz)
    return NonRoutineAdjustment(start, end, kwh, description.strip())
