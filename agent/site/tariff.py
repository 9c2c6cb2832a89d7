"""Energy cost under a time-of-use tariff: facility energy of each complete site interval, split over the
tariff periods the interval spans, times each period's price.

The split is in proportion to time: within one site interval (one poll interval, seconds to minutes) the
power is taken as constant. Period boundaries are local wall-clock times in ``site.timezone``; a boundary
that does not exist on a daylight-saving day is passed at the instant the clock jumps.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from agent.config.tariff import MINUTES_PER_DAY, TariffConfig

__all__ = ["J_PER_KWH", "TariffMeter"]

J_PER_KWH = 3.6e6


def _next_change(table: tuple[str, ...]) -> tuple[int, ...]:
    """For every minute of the day, the first later minute of another period (1440: midnight)."""
    out = [MINUTES_PER_DAY] * MINUTES_PER_DAY
    for minute in range(MINUTES_PER_DAY - 2, -1, -1):
        out[minute] = minute + 1 if table[minute + 1] != table[minute] else out[minute + 1]
    return tuple(out)


class TariffMeter:
    """Accumulates facility energy [J] and its cost [CNY] by tariff period.

    Parameters
    ----------
    tariff : TariffConfig
        Periods, seasons and prices [CNY/kWh].
    zone : tzinfo
        The site's time zone (``site.timezone``): the periods are its wall-clock times.
    """

    def __init__(self, tariff: TariffConfig, zone: tzinfo) -> None:
        self._zone = zone
        self._prices = dict(tariff.prices_cny_per_kwh)
        self._tables: dict[int, tuple[tuple[str, ...], tuple[int, ...]]] = {}
        for season in tariff.seasons:
            table = season.period_table()
            changes = _next_change(table)
            for month in season.months:
                self._tables[month] = (table, changes)
        self.energy_j: dict[str, float] = dict.fromkeys(self._prices, 0.0)
        self.cost_cny: dict[str, float] = dict.fromkeys(self._prices, 0.0)

    def period_at(self, t_s: float) -> str:
        """The tariff period in force at epoch second ``t_s``."""
        local = datetime.fromtimestamp(t_s, self._zone)
        table, _ = self._tables[local.month]
        return table[local.hour * 60 + local.minute]

    def price_at(self, t_s: float) -> tuple[str, float]:
        """The period and its price [CNY/kWh] at epoch second ``t_s``."""
        period = self.period_at(t_s)
        return period, self._prices[period]

    def seconds_by_period(self, start_s: float, end_s: float) -> dict[str, float]:
        """How many seconds of ``[start_s, end_s)`` fall in each period (periods not touched are left out)."""
        out: dict[str, float] = {}
        t = start_s
        while t < end_s:
            local = datetime.fromtimestamp(t, self._zone)
            table, changes = self._tables[local.month]
            minute = local.hour * 60 + local.minute
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            boundary_s = (midnight + timedelta(minutes=changes[minute])).timestamp()
            if boundary_s <= t:  # a wall-clock time skipped or repeated by a daylight-saving change
                boundary_s = t + 60.0 - (t % 60.0)
            segment_end = min(end_s, boundary_s)
            period = table[minute]
            out[period] = out.get(period, 0.0) + (segment_end - t)
            t = segment_end
        return out

    def add(self, start_s: float, end_s: float, energy_j: float) -> None:
        """Count ``energy_j`` used over ``[start_s, end_s)``, split over the periods by time."""
        duration_s = end_s - start_s
        if duration_s <= 0:
            return
        for period, seconds in self.seconds_by_period(start_s, end_s).items():
            share_j = energy_j * seconds / duration_s
            self.energy_j[period] += share_j
            self.cost_cny[period] += share_j / J_PER_KWH * self._prices[period]
