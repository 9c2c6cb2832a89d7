"""What every profile model shares: the strict frozen base, numeric OID checks, writable bounds, counters."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

_OID_RE = re.compile(r"^[0-2](\.\d+)+$")


def check_oid(value: str) -> str:
    value = value.strip().lstrip(".")
    if not _OID_RE.match(value):
        raise ValueError(f"not a numeric OID: {value!r}")
    return value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Writable(StrictModel):
    """A writable setpoint: the bounds a real unit accepts, in canonical units."""

    min: float
    max: float
    step: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Writable:
        if not (math.isfinite(self.min) and math.isfinite(self.max)):
            return self  # ProfileObject refuses it, naming the quantity
        if self.min >= self.max:
            raise ValueError(f"writable min {self.min} must be below max {self.max}")
        if self.step is not None and not (math.isfinite(self.step) and self.step > 0):
            raise ValueError(f"writable step {self.step} must be a positive number")
        return self


class Counter(StrictModel):
    """How an energy accumulator misbehaves: wrap modulus (raw), a cap where it sticks, resets."""

    wrap_raw: int | None = Field(default=None, description="raw value at which the counter wraps to 0")
    cap_raw: int | None = Field(default=None, description="raw value at which the counter sticks")
