"""A time-of-use electricity tariff as data: named periods (peak, flat, valley, ...) over local time of day,
optionally different by season (months), and a price per period [CNY/kWh].

Example (an illustrative Guizhou-style schedule: take the hours and prices from the site's own bill)::

    tariff:
      source: "example only: replace with the hours and prices on the site's electricity bill"
      prices_cny_per_kwh: {peak: 0.82, flat: 0.55, valley: 0.28}
      seasons:
        - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
          periods:
            - {period: valley, start: "00:00", end: "08:00"}
            - {period: flat, start: "08:00", end: "09:00"}
            - {period: peak, start: "09:00", end: "12:00"}
            - {period: flat, start: "12:00", end: "17:00"}
            - {period: peak, start: "17:00", end: "22:00"}
            - {period: flat, start: "22:00", end: "24:00"}

Times are wall-clock times in ``site.timezone``; a range may cross midnight (``start: "23:00", end: "07:00"``).
Every season must cover each minute of the day exactly once and the seasons every month exactly once, so a
moment always has exactly one period and price.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import Field, field_validator, model_validator

from agent.config.base import StrictModel

__all__ = ["MINUTES_PER_DAY", "PeriodRange", "Season", "TariffConfig", "minute_of_day"]

MINUTES_PER_DAY = 24 * 60

PeriodName = str

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def minute_of_day(text: str) -> int:
    """``"HH:MM"`` (00:00-24:00) as minutes after midnight."""
    match = _HHMM.fullmatch(text)
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"not a time of day HH:MM (00:00-24:00): {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


class PeriodRange(StrictModel):
    """One range of the day that belongs to one tariff period."""

    period: PeriodName = Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$", description="tariff period name, a key of prices_cny_per_kwh"
    )
    start: str = Field(description='local wall-clock start "HH:MM" (inclusive)')
    end: str = Field(description='local wall-clock end "HH:MM" (exclusive; "24:00" is midnight; before start: wraps)')

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        minute_of_day(value)
        return value

    def minutes(self) -> range | tuple[range, range]:
        """The minutes of the day it covers (two ranges when it crosses midnight)."""
        start, end = minute_of_day(self.start), minute_of_day(self.end)
        if start == end:
            return range(0)
        if start < end:
            return range(start, end)
        return range(start, MINUTES_PER_DAY), range(0, end)


class Season(StrictModel):
    """The months a daily schedule applies to, and that schedule."""

    name: str = Field(default="all-year", description="label for messages and docs (e.g. summer)")
    months: tuple[int, ...] = Field(
        default=tuple(range(1, 13)), min_length=1, description="calendar months 1-12 this schedule applies in"
    )
    periods: tuple[PeriodRange, ...] = Field(
        min_length=1, description="ranges of the local day, covering each minute exactly once"
    )

    @field_validator("months")
    @classmethod
    def _months(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [m for m in value if not 1 <= m <= 12]
        if bad or len(set(value)) != len(value):
            raise ValueError(f"months must be distinct numbers 1-12, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _covers_the_day_once(self) -> Season:
        owner: list[str | None] = [None] * MINUTES_PER_DAY
        for r in self.periods:
            spans = r.minutes()
            for span in spans if isinstance(spans, tuple) else (spans,):
                for minute in span:
                    if owner[minute] is not None:
                        raise ValueError(
                            f"season {self.name!r}: {r.period} {r.start}-{r.end} overlaps "
                            f"{owner[minute]} at {minute // 60:02d}:{minute % 60:02d}"
                        )
                    owner[minute] = f"{r.period} {r.start}-{r.end}"
        if None in owner:
            gap = owner.index(None)
            raise ValueError(f"season {self.name!r}: no period covers {gap // 60:02d}:{gap % 60:02d}")
        return self

    def period_table(self) -> tuple[str, ...]:
        """The period of every minute of the day (index: minute after midnight); callers keep it."""
        table = [""] * MINUTES_PER_DAY
        for r in self.periods:
            spans = r.minutes()
            for span in spans if isinstance(spans, tuple) else (spans,):
                for minute in span:
                    table[minute] = r.period
        return tuple(table)


class TariffConfig(StrictModel):
    """Time-of-use tariff: energy cost by period (``pue_site_energy_cost_cny_total{period}``).

    The cost of each complete site interval is its facility energy split over the periods it spans in
    proportion to time (the power is taken as constant within one poll interval), times each period's price.
    """

    source: str = Field(
        default="", description="where the hours and prices come from (a tariff notice, the electricity bill)"
    )
    prices_cny_per_kwh: dict[PeriodName, float] = Field(
        min_length=1, description="price of each period [CNY/kWh], e.g. {peak: 0.82, flat: 0.55, valley: 0.28}"
    )
    seasons: tuple[Season, ...] = Field(
        min_length=1, description="daily schedules by month; together they cover each month exactly once"
    )

    @field_validator("prices_cny_per_kwh")
    @classmethod
    def _prices(cls, value: dict[str, float]) -> dict[str, float]:
        for name, price in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"period name {name!r}: lower-case letters, digits and _")
            if not 0 <= price < 100:
                raise ValueError(f"price of {name} must be within 0-100 CNY/kWh, got {price}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TariffConfig:
        months: dict[int, str] = {}
        for season in self.seasons:
            for m in season.months:
                if m in months:
                    raise ValueError(f"month {m} is in both season {months[m]!r} and {season.name!r}")
                months[m] = season.name
            unknown = sorted({r.period for r in season.periods} - set(self.prices_cny_per_kwh))
            if unknown:
                raise ValueError(f"season {season.name!r}: no price for period(s) {', '.join(unknown)}")
        missing = sorted(set(range(1, 13)) - set(months))
        if missing:
            raise ValueError(f"no season covers month(s) {', '.join(map(str, missing))}")
        return self

    def season_of(self, month: int) -> Season:
        """The season whose schedule applies in calendar ``month`` (1-12)."""
        for season in self.seasons:
            if month in season.months:
                return season
        raise KeyError(month)  # unreachable after validation

    def period_at(self, local: datetime) -> str:
        """The period of a local wall-clock time (builds the season's table: for one-off questions)."""
        return self.season_of(local.month).period_table()[local.hour * 60 + local.minute]
