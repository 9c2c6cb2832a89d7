"""Report periods: calendar periods in the site's time zone, and hourly rollups grouped by local day.

Periods are calendar periods in the site's time zone (``site.timezone``, default UTC; China sites use
Asia/Shanghai so that a month is a Beijing-time month); timestamps in exports stay UTC.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.errors import HistoryQueryError
from agent.history.records import SiteRollup

__all__ = [
    "add_month",
    "check_whole_hours",
    "iso_day",
    "local_day_spans",
    "local_days",
    "parse_period",
    "zone",
    "zone_name",
]


def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (an IANA name such as Asia/Shanghai, or UTC).

    Raises
    ------
    HistoryQueryError
        unknown name.
    """
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HistoryQueryError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai, or UTC)") from None


def zone_name(tz: tzinfo) -> str:
    return "UTC" if tz is UTC else str(tz)


def check_whole_hours(tz: tzinfo, start_s: float, end_s: float) -> None:
    """Local days and months are built from hourly rollups: the zone's offset must be whole hours."""
    for moment in (start_s, end_s):
        offset = datetime.fromtimestamp(moment, tz=tz).utcoffset()
        if offset is not None and offset.total_seconds() % 3600:
            raise HistoryQueryError(
                f"time zone {zone_name(tz)} is {offset} from UTC, not whole hours: reports group hourly "
                "rollups into local days and months; use a whole-hour zone (or UTC) for this report"
            )


def _date(text: str, *, end: bool, tz: tzinfo = UTC) -> datetime:
    try:
        if len(text) == 4 and text.isdigit():
            start = datetime(int(text), 1, 1, tzinfo=tz)
            return start.replace(year=start.year + 1) if end else start
        if len(text) == 7 and text[4] == "-":
            start = datetime(int(text[:4]), int(text[5:]), 1, tzinfo=tz)
            return add_month(start) if end else start
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryQueryError(f"not a date: {text!r} (use 2026, 2026-03, 2026-03-15 or an ISO time)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    if end and len(text) == 10:
        parsed += timedelta(days=1)  # a bare end date includes that day
    return parsed


def add_month(moment: datetime) -> datetime:
    return (
        moment.replace(year=moment.year + 1, month=1) if moment.month == 12 else moment.replace(month=moment.month + 1)
    )


def parse_period(text: str, tz: tzinfo = UTC) -> tuple[float, float]:
    """``2026`` (a year), ``2026-03`` (a month) or ``FROM..TO`` (dates; a bare TO date is included).

    Dates and times without an offset are in ``tz``; the result is epoch seconds.
    """
    if ".." in text:
        first, _, last = text.partition("..")
        start, end = _date(first.strip(), end=False, tz=tz), _date(last.strip(), end=True, tz=tz)
    else:
        start, end = _date(text.strip(), end=False, tz=tz), _date(text.strip(), end=True, tz=tz)
    if end <= start:
        raise HistoryQueryError(f"period {text!r} ends before it starts")
    return start.timestamp(), end.timestamp()


def iso_day(epoch_s: float, tz: tzinfo = UTC) -> str:
    return datetime.fromtimestamp(epoch_s, tz=tz).strftime("%Y-%m-%d %H:%M")


def local_days(rollups: Sequence[SiteRollup], tz: tzinfo) -> list[tuple[float, float, list[SiteRollup]]]:
    """Hourly rollups grouped by local calendar day: (day start, day length [s], its hours), in order."""
    by_date: dict[date, list[SiteRollup]] = {}
    for r in rollups:
        by_date.setdefault(datetime.fromtimestamp(r.start_s, tz=tz).date(), []).append(r)
    days = {  # each day's local midnight, computed once a day rather than once an hour
        datetime(d.year, d.month, d.day, tzinfo=tz).timestamp(): hours for d, hours in by_date.items()
    }
    out = []
    for start, hours in sorted(days.items()):
        midnight = datetime.fromtimestamp(start, tz=tz)
        following = (midnight + timedelta(days=1)).replace(hour=0, tzinfo=tz)
        out.append((start, following.timestamp() - start, hours))
    return out


def local_day_spans(starts_s: Sequence[float], tz: tzinfo) -> list[tuple[float, float, int, int]]:
    """Sorted bucket starts grouped by local calendar day, as :func:`local_days` groups rollups: (day start,
    day length [s], first index, index after the last) per day holding any, in order; one datetime a day."""
    if not starts_s:
        return []
    day = datetime.fromtimestamp(starts_s[0], tz=tz).date()
    last = datetime.fromtimestamp(starts_s[-1], tz=tz).date()
    out = []
    lo = 0
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
    while day <= last:
        following_day = day + timedelta(days=1)
        following = datetime(following_day.year, following_day.month, following_day.day, tzinfo=tz).timestamp()
        hi = bisect.bisect_left(starts_s, following, lo)
        if hi > lo:
            out.append((midnight, following - midnight, lo, hi))
        lo, day, midnight = hi, following_day, following
    return out
