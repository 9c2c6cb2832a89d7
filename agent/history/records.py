"""What the history stores and returns: the rows, intervals and rollups, and the :class:`HistoryStore` protocol.

The SQLite implementation is :class:`agent.history.store.SqliteHistoryStore`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

__all__ = [
    "CONDITION_COLUMNS",
    "RESOLUTIONS_S",
    "DeviceEnergyRow",
    "HistoryStore",
    "PollRow",
    "ReadingRow",
    "SiteInterval",
    "SiteRollup",
]

#: rollup resolutions [s]: 1 min, 15 min, 1 h, 1 d (UTC-aligned buckets)
RESOLUTIONS_S: tuple[int, ...] = (60, 900, 3600, 86400)

#: interval-mean conditions carried along with the energies (names as in the canonical CSV)
CONDITION_COLUMNS: tuple[str, ...] = (
    "outdoor_dry_bulb_c",
    "outdoor_wet_bulb_c",
    "outdoor_rh_percent",
    "supply_air_setpoint_c",
    "chw_supply_setpoint_c",
    "economizer_enabled",
)


class ReadingRow(NamedTuple):
    """One raw reading of one poll; a tuple in the ``readings`` table's column order (written as it is)."""

    device: str
    quantity: str
    labels: str
    timestamp_s: float
    value: float


class PollRow(NamedTuple):
    """One device poll: when, whether it answered, how long it took [s], why not (an error kind)."""

    device: str
    timestamp_s: float
    ok: bool
    duration_s: float
    error_kind: str | None


class DeviceEnergyRow(NamedTuple):
    """Monotonic energy of one device quantity at one poll; ``agent_total_j`` is the agent's own total. A tuple
    in the ``device_energy`` table's column order."""

    device: str
    quantity: str
    timestamp_s: float
    total_j: float
    agent_total_j: float
    method: str


@dataclass(frozen=True)
class SiteInterval:
    """One site interval. Energies [J] over ``covered_s``; conditions are interval means or None."""

    start_s: float
    duration_s: float
    covered_s: float
    facility_j: float
    it_j: float
    cooling_covered_s: float
    cooling_j: float
    method: str
    it_category: int | None = None
    source: str = "agent"
    conditions: dict[str, float] = field(default_factory=dict)
    max_inlet_c: float | None = None
    #: optional boundaries: name -> (covered time [s], amount over it [J or m3]); see ``site_term_interval``
    terms: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteRollup:
    """One rollup bucket; ``conditions`` are means over the time each was known."""

    start_s: int
    resolution_s: int
    duration_s: float
    covered_s: float
    facility_j: float
    it_j: float
    cooling_covered_s: float
    cooling_j: float
    methods: frozenset[str]
    it_categories: frozenset[int]
    sources: frozenset[str]
    conditions: dict[str, float]
    max_inlet_c: float | None
    terms: dict[str, tuple[float, float]] = field(default_factory=dict)


class HistoryStore(Protocol):
    """What the writer, exporter, importer and reports need from a store (SQLite today)."""

    def record_poll(
        self,
        device: str,
        timestamp_s: float,
        ok: bool,
        duration_s: float,
        error_kind: str | None,
        readings: Sequence[ReadingRow],
        energy: Sequence[DeviceEnergyRow],
    ) -> None: ...

    def last_device_energy(self, device: str, quantity: str) -> DeviceEnergyRow | None: ...

    def record_site_interval(self, interval: SiteInterval) -> None: ...

    def import_site_intervals(self, intervals: Iterable[SiteInterval]) -> int: ...

    def site_rollups(self, resolution_s: int, start_s: float, end_s: float) -> list[SiteRollup]: ...

    def site_intervals(self, start_s: float, end_s: float) -> list[SiteInterval]: ...

    def device_energy(self, device: str, quantity: str, start_s: float, end_s: float) -> list[DeviceEnergyRow]: ...

    def data_span(self) -> tuple[float, float] | None: ...

    def purge_raw(self, before_s: float, energy_before_s: float | None = None) -> int: ...

    def close(self) -> None: ...
