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

__all__ = ["SPAN_TOLERANCE", "SPAN_TOLERANCE_MAX_S", "SPAN_UNKNOWN", "span_matches"]

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
