"""Time-of-use tariff: the config's checks, and the cost arithmetic across period, midnight and season
boundaries in the site's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agent.config.tariff import TariffConfig
from agent.site.tariff import J_PER_KWH, TariffMeter

SHANGHAI = ZoneInfo("Asia/Shanghai")
PRICES = {"peak": 0.9, "flat": 0.6, "valley": 0.3, "sharp": 1.2}
DAY = [
    {"period": "valley", "start": "00:00", "end": "08:00"},
    {"period": "flat", "start": "08:00", "end": "09:00"},
    {"period": "peak", "start": "09:00", "end": "12:00"},
    {"period": "flat", "start": "12:00", "end": "17:00"},
    {"period": "peak", "start": "17:00", "end": "22:00"},
    {"period": "flat", "start": "22:00", "end": "24:00"},
]
#: summer: 20:00-21:00 is a sharp peak, and the valley wraps midnight (23:00-07:00)
SUMMER = [
    {"period": "valley", "start": "23:00", "end": "07:00"},
    {"period": "flat", "start": "07:00", "end": "10:00"},
    {"period": "peak", "start": "10:00", "end": "20:00"},
    {"period": "sharp", "start": "20:00", "end": "21:00"},
    {"period": "flat", "start": "21:00", "end": "23:00"},
]


def _tariff(**overrides: object) -> TariffConfig:
    data: dict[str, object] = {
        "prices_cny_per_kwh": PRICES,
        "seasons": [
            {"name": "rest", "months": [1, 2, 3, 4, 5, 6, 9, 10, 11, 12], "periods": DAY},
            {"name": "summer", "months": [7, 8], "periods": SUMMER},
        ],
    }
    data.update(overrides)
    return TariffConfig.model_validate(data)


def _t(*args: int) -> float:
    return datetime(*args, tzinfo=SHANGHAI).timestamp()  # type: ignore[arg-type]


def test_periods_at_local_times() -> None:
    meter = TariffMeter(_tariff(), SHANGHAI)
    assert meter.period_at(_t(2026, 3, 15, 7, 59, 59)) == "valley"
    assert meter.period_at(_t(2026, 3, 15, 8, 0)) == "flat"
    assert meter.period_at(_t(2026, 3, 15, 21, 59)) == "peak"
    assert meter.period_at(_t(2026, 3, 15, 23, 30)) == "flat"
    assert meter.period_at(_t(2026, 7, 15, 23, 30)) == "valley"  # summer schedule, wrapping range
    assert meter.period_at(_t(2026, 7, 16, 6, 59)) == "valley"
    assert meter.price_at(_t(2026, 7, 15, 20, 30)) == ("sharp", 1.2)
    # 00:30 UTC is 08:30 in Shanghai: the zone is applied, not UTC
    assert meter.period_at(datetime(2026, 3, 15, 0, 30, tzinfo=UTC).timestamp()) == "flat"


def test_an_interval_across_a_boundary_is_split_by_time() -> None:
    meter = TariffMeter(_tariff(), SHANGHAI)
    start, end = _t(2026, 3, 15, 7, 59, 45), _t(2026, 3, 15, 8, 0, 15)  # 15 s valley, 15 s flat
    assert meter.seconds_by_period(start, end) == {"valley": 15.0, "flat": 15.0}
    meter.add(start, end, 2 * J_PER_KWH)  # 2 kWh over 30 s
    assert meter.energy_j["valley"] == pytest.approx(J_PER_KWH)
    assert meter.energy_j["flat"] == pytest.approx(J_PER_KWH)
    assert meter.cost_cny == pytest.approx({"valley": 0.3, "flat": 0.6, "peak": 0.0, "sharp": 0.0})


def test_a_whole_day_costs_the_sum_of_its_periods() -> None:
    meter = TariffMeter(_tariff(), SHANGHAI)
    power_kw = 100.0
    # a day in 15 s ticks from 00:00 to 24:00 local: 8 h valley, 8 h flat, 8 h peak
    start = _t(2026, 3, 15)
    for i in range(24 * 240):
        meter.add(start + 15 * i, start + 15 * (i + 1), power_kw * 1000 * 15)
    hours = {p: meter.energy_j[p] / J_PER_KWH / power_kw for p in meter.energy_j}
    assert hours == pytest.approx({"valley": 8.0, "flat": 8.0, "peak": 8.0, "sharp": 0.0})
    expected = power_kw * (8 * 0.3 + 8 * 0.6 + 8 * 0.9)
    assert sum(meter.cost_cny.values()) == pytest.approx(expected)


def test_one_long_interval_across_midnight_and_a_season_change() -> None:
    meter = TariffMeter(_tariff(), SHANGHAI)
    # 21:30 on 30 June to 07:30 on 1 July: June's schedule until midnight, then summer's
    seconds = meter.seconds_by_period(_t(2026, 6, 30, 21, 30), _t(2026, 7, 1, 7, 30))
    assert seconds == {"peak": 1800.0, "flat": 7200.0 + 1800.0, "valley": 7 * 3600.0}


def test_dst_zone_day_has_23_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    meter = TariffMeter(_tariff(), berlin)
    start = datetime(2026, 3, 29, tzinfo=berlin).timestamp()
    end = datetime(2026, 3, 30, tzinfo=berlin).timestamp()
    seconds = meter.seconds_by_period(start, end)
    assert sum(seconds.values()) == 23 * 3600  # clocks jump 02:00 -> 03:00 inside the valley
    assert seconds["valley"] == 7 * 3600


@pytest.mark.parametrize(
    ("seasons", "message"),
    [
        ([{"periods": DAY[:-1]}], "no period covers 22:00"),
        ([{"periods": [*DAY, {"period": "peak", "start": "23:00", "end": "01:00"}]}], "overlaps"),
        ([{"months": [1, 2, 3], "periods": DAY}], "no season covers month(s) 4"),
        ([{"periods": DAY}, {"name": "b", "months": [7], "periods": DAY}], "month 7 is in both"),
        ([{"periods": [{"period": "shoulder", "start": "00:00", "end": "24:00"}]}], "no price for period(s) shoulder"),
        ([{"periods": [{"period": "flat", "start": "00:00", "end": "25:00"}]}], "not a time of day"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_reason(seasons: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _tariff(seasons=seasons)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        _tariff(currency="CNY")
