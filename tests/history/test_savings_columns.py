"""The savings report's complete days (agent/reports/report.py ``_daily``) read the hourly rollups as columns
(issue 17); they must give what reading the rollup objects gave, bit for bit, on SQLite and on PostgreSQL, in UTC
and in zones with whole-hour offsets (Asia/Shanghai) and DST (Europe/Berlin)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, tzinfo
from typing import Any

import numpy as np
import pytest

from agent.history.postgres.store import PostgresHistoryStore
from agent.history.records import HistoryStore, SiteInterval
from agent.history.store import SqliteHistoryStore
from agent.reports.periods import local_days, zone
from agent.reports.report import _daily

T0 = 1_774_137_600.0  # 2026-03-22T00:00:00Z: the spring DST change in Europe lies in it
DAYS = 14
STEP_S = 900.0


def _intervals() -> list[SiteInterval]:
    """Two weeks at 15 min: energies that do not add up exactly, a gap, a short interval, hours without the wet
    bulb (the day is then not complete for it) and a day without any temperature."""
    rng = random.Random(23)
    out = []
    for k in range(int(DAYS * 86400 / STEP_S)):
        start = T0 + k * STEP_S
        day = int((start - T0) // 86400)
        if day == 4 and 5 <= (start - T0) % 86400 / 3600 < 6:
            continue  # a gap
        covered = STEP_S if k != 300 else 600.0
        it = rng.uniform(4e5, 6e5) * covered
        conditions = {} if day == 9 else {"outdoor_dry_bulb_c": rng.uniform(-5, 35)}
        if day not in (2, 9) and k % 37:
            conditions["outdoor_wet_bulb_c"] = rng.uniform(-8, 28)
        out.append(
            SiteInterval(
                start, STEP_S, covered, it * rng.uniform(1.2, 1.6), it, covered, it * 0.2, "counter", 1, "import",
                conditions=conditions,
            )
        )  # fmt: skip
    return out


def _daily_from_objects(
    store: HistoryStore, start_s: float, end_s: float, temperature: str, tz: tzinfo
) -> tuple[np.ndarray[Any, Any], ...]:
    """``_daily`` as it was before it read columns (rollup objects grouped by local day)."""
    by_day = {start: hours for start, _length, hours in local_days(store.site_rollups(3600, start_s, end_s), tz)}
    starts, fac, it, temps = [], [], [], []
    excluded = 0
    day = datetime.fromtimestamp(start_s, tz=tz).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() < end_s:
        rows = by_day.get(day.timestamp(), [])
        day_s = day.timestamp()
        day = (day + timedelta(days=1)).replace(hour=0, tzinfo=tz)
        ok = len(rows) == 24 and all(r.covered_s >= 3600 - 1e-6 and temperature in r.conditions for r in rows)
        if not ok:
            excluded += 1
            continue
        starts.append(day_s)
        fac.append(sum(r.facility_j for r in rows) / 3.6e6)
        it.append(sum(r.it_j for r in rows) / 3.6e6)
        temps.append([r.conditions[temperature] for r in rows])
    arrays = (np.array(starts, dtype=float), np.array(fac), np.array(it), np.array(temps).reshape(-1, 24))
    return (*arrays, np.array([excluded]))


def _check(store: HistoryStore) -> None:
    compared = 0
    for name in ("UTC", "Asia/Shanghai", "Europe/Berlin"):
        tz = zone(name)
        start = datetime.fromtimestamp(T0, tz=tz).replace(hour=0) + timedelta(days=1)
        start_s, end_s = start.timestamp(), (start + timedelta(days=DAYS - 2)).timestamp()
        for temperature in ("outdoor_wet_bulb_c", "outdoor_dry_bulb_c"):
            got = _daily(store, start_s, end_s, temperature, tz)
            want = _daily_from_objects(store, start_s, end_s, temperature, tz)
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                assert g.shape == w.shape and g.tobytes() == w.tobytes(), (name, temperature)
            compared += len(got[0])
            assert 0 < len(got[0]) < DAYS - 2 and got[4][0] > 0  # complete days and excluded ones
    assert compared > 40


def test_savings_days_from_columns_equal_those_from_rollup_objects_on_sqlite(tmp_path: Any) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    store.import_site_intervals(_intervals())
    _check(store)
    store.close()
    _check(SqliteHistoryStore(tmp_path / "h.sqlite", readonly=True))


@pytest.mark.parametrize("readonly", [False, True])
def test_savings_days_from_columns_equal_those_from_rollup_objects_on_postgres(pg_url: str, readonly: bool) -> None:
    writer = PostgresHistoryStore(pg_url, site="hall")
    writer.import_site_intervals(_intervals())
    writer.close()
    store = PostgresHistoryStore(pg_url, site="hall", readonly=readonly)
    _check(store)
    store.close()
