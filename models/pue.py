"""Power usage effectiveness, live and from energy (pure).

References
----------
ISO/IEC 30134-2:2016, Data centres - Key performance indicators - Part 2: PUE.
The Green Grid, White Paper 49, "PUE: a comprehensive examination of the metric" (2012).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["BoundarySum", "PueResult", "energy_pue", "live_pue", "sum_boundary"]


@dataclass(frozen=True, slots=True)
class BoundarySum:
    """Sum over one boundary (facility, IT, cooling) and which contributors were missing."""

    value: float | None
    contributors: int
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing and self.value is not None

    @property
    def coverage_ratio(self) -> float:
        if self.contributors == 0:
            return 0.0
        return (self.contributors - len(self.missing)) / self.contributors


@dataclass(frozen=True, slots=True)
class PueResult:
    """A PUE figure, or None with the reason it cannot be given."""

    value: float | None
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.value is not None


def sum_boundary(values: Mapping[str, float | None], contributors: Sequence[str]) -> BoundarySum:
    """Sum each contributor's value [W or J]; a contributor with None makes the sum incomplete.

    An incomplete sum has ``value`` None: partial sums are never used for PUE.
    """
    missing = tuple(name for name in contributors if values.get(name) is None)
    if missing:
        return BoundarySum(None, len(contributors), missing)
    return BoundarySum(math.fsum(values[n] or 0.0 for n in contributors), len(contributors), ())


def _ratio(facility: BoundarySum, it: BoundarySum) -> PueResult:
    if facility.missing or it.missing:
        names = ", ".join((*facility.missing, *it.missing))
        return PueResult(None, f"missing data from: {names}")
    assert facility.value is not None and it.value is not None
    if it.value <= 0:
        return PueResult(None, "IT power/energy is zero")
    pue = facility.value / it.value
    if pue < 1.0:
        # facility below IT means the topology or a meter is wrong: say so, do not export it
        return PueResult(None, f"facility below IT (ratio {pue:.3f}): check topology and meters")
    return PueResult(pue)


def live_pue(facility_w: BoundarySum, it_w: BoundarySum) -> PueResult:
    """Real-time PUE = P_facility / P_IT from instantaneous powers [W] ("real-time PUE")."""
    return _ratio(facility_w, it_w)


def energy_pue(facility_j: BoundarySum, it_j: BoundarySum) -> PueResult:
    """PUE = E_DC / E_IT over one period, both energies [J] (ISO/IEC 30134-2 definition)."""
    return _ratio(facility_j, it_j)
