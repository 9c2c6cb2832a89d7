"""Whether a contributor's energy delta covers the site interval it is counted in.

A device's energy total is known as of its latest poll (the poll's start time, ``DeviceEnergy.last_timestamp_s``),
not as of a site tick. Between two ticks a contributor's delta therefore covers the stretch between the polls that
were the latest at each tick: one poll interval in steady polling, whatever the device's phase. A poll still in
flight at a tick, a skipped poll or one that timed out makes that stretch none at all (no new poll: 0 J) or two
poll intervals (a baseline from the poll before, e.g. the start-up read): the energy is not that interval's,
so the interval is not complete. Both the live accounting (:class:`agent.site.poller.SiteAccountant`) and the
stored site intervals (:class:`agent.history.writer.HistoryWriter`) apply this rule (docs/topology-and-metrics.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config.site import TopologyTerm
    from agent.site.poller import AgentState

__all__ = [
    "SPAN_TOLERANCE",
    "SPAN_TOLERANCE_MAX_S",
    "SPAN_UNKNOWN",
    "Baselines",
    "contributor_deltas",
    "span_matches",
]

#: (device, energy quantity) -> its total [J], suspect polls and poll time at the previous site tick
Baselines = dict[tuple[str, str], tuple[float, int, float]]

#: a contributor's poll-to-poll stretch may differ from the tick interval by this share of the interval [-] ...
SPAN_TOLERANCE = 0.25
#: ... and by no more than this [s]: the scheduling jitter of polls and ticks is absolute (milliseconds, a few
#: hundred on a loaded host), and at a 15 s interval a start-up read a few seconds before the first periodic poll
#: must still show (its stretch is 5-15 s, not 15 s); a poll in flight, skipped or failed at a tick makes the
#: stretch differ by a whole poll interval
SPAN_TOLERANCE_MAX_S = 1.0

#: the reason an interval is incomplete because of it (fixed text: it may end up in a metric label)
SPAN_UNKNOWN = "energy not known over the whole interval: a poll in flight, skipped or failed at a site tick"


def span_matches(before_poll_s: float, now_poll_s: float, interval_s: float) -> bool:
    """True when the polls a delta runs between are one tick interval apart, within :data:`SPAN_TOLERANCE` of
    it and at most :data:`SPAN_TOLERANCE_MAX_S`."""
    tolerance_s = min(SPAN_TOLERANCE * interval_s, SPAN_TOLERANCE_MAX_S)
    return interval_s > 0 and abs((now_poll_s - before_poll_s) - interval_s) <= tolerance_s


def contributor_deltas(
    state: AgentState,
    terms: Iterable[TopologyTerm],
    now_s: float,
    stale_after_s: float,
    last: Baselines,
    interval_s: float | None,
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Each term's energy since the previous site tick [J], None where it is not known, and why.

    Not known: the contributor is stale or partial, a poll in between was suspect (a partial read, a counter
    glitch), there is no baseline yet, or its polls are not one tick interval (``interval_s``, None on the first
    tick) apart (:func:`span_matches`). ``last`` holds the baselines and is updated in place (one per boundary
    whose terms may repeat another boundary's, e.g. a PV meter in both facility and renewable). Shared by the
    single agent's :class:`~agent.site.poller.SiteAccountant` and a shard's
    :class:`~agent.site.shard.ShardAccountant`, so both count the same intervals.
    """
    out: dict[str, float | None] = {}
    why: dict[str, str] = {}
    for term in terms:
        key = (term.device, term.energy_quantity)
        energy = state.energy.get(key)
        fresh = state.fresh(term.device, now_s, stale_after_s)
        before = last.get(key)
        if energy is None or not fresh or energy.partial:
            last.pop(key, None)  # re-baseline when it comes back
            out[term.device] = None
            if energy is not None and fresh and energy.problem is not None:
                why[term.device] = energy.problem
            continue
        last[key] = (energy.total_j, energy.suspect_polls, energy.last_timestamp_s)
        if before is not None and before[1] != energy.suspect_polls:
            why[term.device] = energy.problem or "energy not known"
            out[term.device] = None
            continue
        if before is not None and not (
            interval_s is not None and span_matches(before[2], energy.last_timestamp_s, interval_s)
        ):
            why[term.device] = SPAN_UNKNOWN
            out[term.device] = None
            continue
        out[term.device] = None if before is None else energy.total_j - before[0]
    return out, why
