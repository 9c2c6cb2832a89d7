"""Which optional plant levers a site has (``recommender.levers``): the setpoints beyond supply air, chilled water
and the economizer that the recommender may also choose, where the plant has them.

Example (a variable-speed plant with tower-fan and pump-DP control and chiller staging)::

    recommender:
      levers:
        - {name: condenser_water_setpoint_c, min: 18, max: 30, step: 1, max_step: 2}
        - {name: chw_pump_dp_setpoint_pa, min: 30000, max: 120000, step: 10000, max_step: 20000}
        - {name: chillers_running, min: 1, max: 3, step: 1, max_step: 1}

Each lever is a history column of the same name (the site must log it, or the model fit refuses the lever)
and a writable of that quantity in a device profile. The model learns it as one more input; the optimiser
proposes only values the history covered (rounded to ``step``), inside ``min``-``max``, at most ``max_step``
from the value in force. A site that lists none runs exactly as without this section. See docs/levers.md.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # numpy stays out of check-config's start-up (tests/core/test_cli_startup.py)
    from models.levers import LeverSpec

__all__ = ["LeverConfig", "lever_specs"]

LeverName = Literal[
    "fan_min_speed_ratio",
    "condenser_water_setpoint_c",
    "chw_pump_dp_setpoint_pa",
    "chillers_running",
    "towers_running",
]


class LeverConfig(BaseModel):
    """One optional lever: its quantity (history column), bounds, resolution and largest change per step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: LeverName = Field(description="the lever's quantity and history column")
    min: float = Field(allow_inf_nan=False, description="lowest value the recommender may choose")
    max: float = Field(allow_inf_nan=False, description="highest value the recommender may choose")
    step: float = Field(gt=0, allow_inf_nan=False, description="resolution: values are multiples of it")
    max_step: float = Field(gt=0, allow_inf_nan=False, description="largest change in one recommendation")

    @model_validator(mode="after")
    def _ordered(self) -> LeverConfig:
        if self.min > self.max:
            raise ValueError(f"lever {self.name}: min {self.min:g} > max {self.max:g}")
        if self.name == "fan_min_speed_ratio" and not (0 <= self.min and self.max <= 1):
            raise ValueError("lever fan_min_speed_ratio: a ratio within 0-1")
        if self.name in ("chillers_running", "towers_running") and not (
            self.min >= 1 and math.isclose(self.step, round(self.step)) and self.step >= 1
        ):
            raise ValueError(f"lever {self.name}: a count, min >= 1 and a whole step")
        return self


def lever_specs(levers: list[LeverConfig] | tuple[LeverConfig, ...]) -> tuple[LeverSpec, ...]:
    """The pure model's lever specs, in the configured order; a lever listed twice is an error."""
    names = [lever.name for lever in levers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"levers listed twice: {', '.join(twice)}")
    from models.levers import LeverSpec

    return tuple(LeverSpec(lever.name, lever.min, lever.max, lever.step, lever.max_step) for lever in levers)
