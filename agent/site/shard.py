"""Scale-out: several agents share one large site, each polling a deterministic subset of its devices.

``pue-agent run --shard I/N`` keeps the devices whose stable hash (SHA-256 of the device name, not
Python's salted ``hash``) falls in shard I of N, so every agent given the same config and N agrees
on the split without talking to the others, and adding devices moves only those devices.

A shard cannot compute the site PUE: the facility meter may live in one shard and the UPSes in
another. So in shard mode the agent does not export ``pue_site_*``; it exports the energy of its
*own* topology contributors per boundary, counted only over site ticks where every one of its own
facility and IT contributors was known over the whole interval, the seconds those ticks cover, and whether
the last tick was complete::

    pue_shard_energy_joules_total{boundary="facility"} 3.6e11
    pue_shard_energy_joules_total{boundary="it"} 2.9e11
    pue_shard_complete_seconds_total 2.6e6
    pue_shard_complete 1.0
    pue_shard_count 2.0
    pue_shard_info{shard="1",shards="2"} 1.0

(exported by :class:`agent.export.shard.ShardCollector`). Prometheus turns each shard's energy into a power
over the time it covered, sums those powers across shards and only then divides (recording rules in
``deploy/prometheus/rules/pue-shards.rules.yml``); the ratio is dropped while any shard covered less than
half of the window, or is missing.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass

from agent.config.site import SiteConfig, TopologyTerm
from agent.devices.readings import DeviceSnapshot
from agent.site.energy_span import Baselines, contributor_deltas
from agent.site.poller import AgentState, SiteState

__all__ = [
    "Shard",
    "ShardAccountant",
    "parse_shard",
    "shard_config",
    "shard_of",
]

log = logging.getLogger(__name__)

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_BOUNDARIES = ("facility", "it", "cooling")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 1 <= I <= N")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, device: str) -> bool:
        return shard_of(device, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """``"2/3"`` -> Shard(2, 3); raises ValueError with the reason."""
    match = _SHARD_RE.match(text)
    if match is None:
        raise ValueError(f"shard must look like I/N (e.g. 1/2), got {text!r}")
    return Shard(int(match.group(1)), int(match.group(2)))


def shard_of(device: str, count: int) -> int:
    """The 1-based shard of a device name: SHA-256 of the UTF-8 name, first 8 bytes, modulo ``count``."""
    digest = hashlib.sha256(device.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def shard_config(cfg: SiteConfig, shard: Shard) -> SiteConfig:
    """The config with only this shard's devices (the topology is kept whole: it names the boundaries)."""
    devices = tuple(d for d in cfg.devices if shard.owns(d.name))
    if not devices:
        log.warning("shard %s owns none of the %d devices", shard, len(cfg.devices))
    return cfg.model_copy(update={"devices": devices})


class ShardAccountant:
    """Per-boundary energy of this shard's own topology contributors, and the time it covers (an agent observer).

    A site tick is complete when every own facility and IT contributor's energy since the previous tick is
    known over that interval, by the single agent's rule (:func:`agent.site.energy_span.contributor_deltas`:
    fresh at both ends, no suspect poll between, polls one tick interval apart). Only complete ticks add
    their energy to ``totals_j`` and their duration to ``complete_s``; cooling is summed when its own
    contributors are complete too.

    Shards lose different ticks (each polls its own devices), so a shard's energy is only comparable with
    another's as a power over the time each covered: Prometheus divides each shard's energy increase by its
    ``complete_s`` increase before summing the shards (deploy/prometheus/rules/pue-shards.rules.yml). Summing
    the bare energies would weigh a shard that lost a tick less: a loaded CI run saw a two-shard PUE of 1.273
    against the single agent's 1.294 (1.6 %, about one of 30 ticks lost by the shard holding the meter).
    """

    #: ``on_site`` (O(own devices)) runs on the agent's site-tick thread, over a copy of the state
    site_off_loop = True

    def __init__(self, cfg: SiteConfig, shard: Shard) -> None:
        self._cfg = cfg
        self.shard = shard
        topo = cfg.topology
        self._terms: dict[str, tuple[TopologyTerm, ...]] = {
            "facility": tuple(t for t in topo.facility if shard.owns(t.device)),
            "it": tuple(t for t in topo.it if shard.owns(t.device)),
            "cooling": tuple(t for t in topo.cooling if shard.owns(t.device)),
        }
        self._last: dict[str, Baselines] = {b: {} for b in _BOUNDARIES}  # one per boundary: terms may repeat
        self._last_tick_s: float | None = None
        self.totals_j: dict[str, float] = {b: 0.0 for b, terms in self._terms.items() if terms}
        #: seconds of complete ticks (the time ``totals_j`` covers) [s]
        self.complete_s = 0.0
        self.complete = False

    @property
    def boundaries(self) -> tuple[str, ...]:
        return tuple(b for b in _BOUNDARIES if self._terms[b])

    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        return None

    def _deltas(self, boundary: str, state: AgentState, now: float, stale_after: float) -> list[float] | None:
        interval_s = None if self._last_tick_s is None else now - self._last_tick_s
        deltas, _why = contributor_deltas(
            state, self._terms[boundary], now, stale_after, self._last[boundary], interval_s
        )
        values = list(deltas.values())
        return None if any(v is None for v in values) else [v for v in values if v is not None]

    def on_site(self, site: SiteState, state: AgentState) -> None:
        now = site.timestamp_s
        stale_after = self._cfg.poll_interval_s * self._cfg.stale_after_intervals
        deltas = {b: self._deltas(b, state, now, stale_after) for b in self.boundaries}
        previous, self._last_tick_s = self._last_tick_s, now
        in_step = previous is not None and 0 < now - previous <= stale_after  # not the first tick, nor a clock jump
        self.complete = in_step and all(deltas[b] is not None for b in ("facility", "it") if b in deltas)
        if not self.complete or previous is None:
            return
        self.complete_s += now - previous
        for boundary in self.boundaries:
            values = deltas[boundary]
            if values is not None:
                self.totals_j[boundary] += math.fsum(values)
