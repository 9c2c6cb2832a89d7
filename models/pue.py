"""Power usage effectiveness, live and from energy (pure).

References
----------
ISO/IEC 30134-2:2026 (edition 2; the 2016 edition is withdrawn), Data centres key performance indicators - Part 2: PUE.
The Green Grid, White Paper 49, "PUE: a comprehensive examination of the metric" (2012).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["DEFAULT_PLAUSIBLE_PUE", "BoundarySum", "PueResult", "energy_pue", "live_pue", "sum_boundary"]

#: the PUE range a real data centre falls in; outside it a meter or the topology is wrong (ISO/IEC 30134-2
#: PUE is >= 1 by definition; above 3 even a small legacy room's figure is more likely a metering fault)
DEFAULT_PLAUSIBLE_PUE: tuple[float, float] = (1.0, 3.0)


@dataclass(frozen=True, slots=True)
class BoundarySum:
    """Sum over one boundary (facility, IT, cooling), which contributors were missing, and why (when known:
    an unreadable object, a counter glitch)."""

    value: float | None
    contributors: int
    missing: tuple[str, ...]
    why: Mapping[str, str] = field(default_factory=dict)

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


def sum_boundary(
    values: Mapping[str, float | None], contributors: Sequence[str], why: Mapping[str, str] | None = None
) -> BoundarySum:
    """Sum each contributor's value [W or J]; a contributor with None makes the sum incomplete.

    An incomplete sum has ``value`` None: partial sums are never used for PUE. ``why`` says, for a
    contributor that is None, what is wrong with it (it then names the object), so the PUE's reason can.
    """
    missing = tuple(name for name in contributors if values.get(name) is None)
    if missing:
        reasons = {name: why[name] for name in missing if why is not None and name in why}
        return BoundarySum(None, len(contributors), missing, reasons)
    return BoundarySum(math.fsum(values[n] or 0.0 for n in contributors), len(contributors), ())


def _ratio(facility: BoundarySum, it: BoundarySum, plausible: tuple[float, float]) -> PueResult:
    if facility.missing or it.missing:
        why = {**facility.why, **it.why}
        names = ", ".join(f"{n} ({why[n]})" if n in why else n for n in dict.fromkeys((*facility.missing, *it.missing)))
        return PueResult(None, f"missing data from: {names}")
    assert facility.value is not None and it.value is not None
    if it.value <= 0:
        return PueResult(None, "IT power/energy is zero")
    pue = facility.value / it.value
    if pue < 1.0:
        # facility below IT means the topology or a meter is wrong: say so, do not export it
        return PueResult(None, f"facility below IT (ratio {pue:.3f}): check topology and meters")
    low, high = plausible
    if not low <= pue <= high:
        return PueResult(None, f"PUE {pue:.4g} outside the plausible range {low:g}-{high:g}: check meters and topology")
    return PueResult(pue)


def live_pue(
    facility_w: BoundarySum, it_w: BoundarySum, plausible: tuple[float, float] = DEFAULT_PLAUSIBLE_PUE
) -> PueResult:
    """Real-time PUE = P_facility / P_IT from instantaneous powers [W] ("real-time PUE").

    A ratio outside ``plausible`` (min, max) [-] is refused with the reason: a wrong number is worse than none.
    """
    return _ratio(facility_w, it_w, plausible)


def energy_pue(
    facility_j: BoundarySum, it_j: BoundarySum, plausible: tuple[float, float] = DEFAULT_PLAUSIBLE_PUE
) -> PueResult:
    """PUE = E_DC / E_IT over one period, both energies [J] (ISO/IEC 30134-2 definition); refused outside
    ``plausible`` (min, max) [-]."""
    return _ratio(facility_j, it_j, plausible)
