"""The monthly PUE table reads a year of hourly rollups quickly and gives exactly what the plain decode gives.

The fast decode (bit patterns and condition means decoded once, inf refused by one SQL scan) must return the
same rollups, bit for bit, as decoding ``SELECT *`` row by row in Python did; and each month's energies must be
the exact ``fsum`` of its stored hourly rollups.
"""

from __future__ import annotations

import math
import random
import sqlite3
from pathlib import Path

import pytest

from agent.errors import HistoryQueryError
from agent.history.columns import columns_from_rollups, rollup_columns
from agent.history.records import CONDITION_COLUMNS, SiteInterval, SiteRollup
from agent.history.store import SqliteHistoryStore
from agent.reports.periods import zone
from agent.reports.report import period_report

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAYS = 62
STEP_S = 900.0
METHODS = {"counter": 1, "integrated": 2, "imported": 4}
SOURCES = {"agent": 1, "import": 2}


def _intervals() -> list[SiteInterval]:
    """Two months at 15 min: varying energies, partial coverage, a missing day, conditions known part of the
    time, mixed methods and categories, optional terms in the first ten days."""
    rng = random.Random(17)
    out = []
    for k in range(int(DAYS * 86400 / STEP_S)):
        start = T0 + k * STEP_S
        if 20 * 86400 <= start - T0 < 21 * 86400:
            continue  # a gap
        covered = STEP_S if rng.random() > 0.05 else rng.uniform(0, STEP_S)
        it = rng.uniform(4e5, 6e5) * covered
        conditions = {c: rng.uniform(-5, 35) for c in CONDITION_COLUMNS if rng.random() > 0.2}
        terms = {"renewable_j": (covered, rng.uniform(0, 1e5) * covered)} if k % 3 and k < 1000 else {}
        out.append(
            SiteInterval(
                start,
                STEP_S,
                covered,
                it * rng.uniform(1.2, 1.6),
                it,
                covered,
                it * rng.uniform(0.1, 0.3),
                rng.choice(["counter", "integrated", "counter+integrated"]),
                rng.choice([1, 2, 3]),
                source="import",
                conditions=conditions,
                max_inlet_c=rng.choice([None, rng.uniform(20, 30)]),
                terms=terms,
            )
        )
    return out


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("monthly") / "history.sqlite"
    store = SqliteHistoryStore(path)
    store.import_site_intervals(_intervals())
    store.close()
    return path


def _plain_decode(path: Path, resolution_s: int, start_s: float, end_s: float) -> list[SiteRollup]:
    """The rollups as the row-by-row decode of ``SELECT *`` gave them (the reference)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT * FROM site_rollup WHERE resolution_s = ? AND start_s >= ? AND start_s < ? ORDER BY start_s",
            (resolution_s, start_s, end_s),
        ).fetchall()
        terms: dict[float, dict[str, tuple[float, float]]] = {}
        for start, term, covered, value in conn.execute(
            "SELECT start_s, term, covered_s, value FROM site_term_rollup WHERE resolution_s = ?", (resolution_s,)
        ):
            terms.setdefault(float(start), {})[term] = (float(covered), float(value))
    n = len(CONDITION_COLUMNS)
    out = []
    for row in rows:
        res, start, duration, covered, fac, it, cool_cov, cool, methods, cats, sources = row[:11]
        cond = row[11 : 11 + 2 * n]
        out.append(
            SiteRollup(
                int(start),
                int(res),
                float(duration),
                float(covered),
                float(fac),
                float(it),
                float(cool_cov),
                float(cool),
                frozenset(name for name, bit in METHODS.items() if methods & bit),
                frozenset(k for k in (0, 1, 2, 3) if cats & (1 << k)),
                frozenset(name for name, bit in SOURCES.items() if sources & bit),
                {
                    c: float(cond[2 * i + 1]) / float(cond[2 * i])
                    for i, c in enumerate(CONDITION_COLUMNS)
                    if cond[2 * i] > 0
                },
                None if row[-1] is None else float(row[-1]),
                terms.get(float(start), {}),
            )
        )
    return out


@pytest.mark.parametrize("resolution_s", [900, 3600, 86400])
def test_rollups_equal_the_plain_decode_bit_for_bit(db: Path, resolution_s: int) -> None:
    store = SqliteHistoryStore(db, readonly=True)
    got = store.site_rollups(resolution_s, T0, T0 + DAYS * 86400)
    store.close()
    want = _plain_decode(db, resolution_s, T0, T0 + DAYS * 86400)
    assert len(got) == len(want) > 0
    partly_known = any(r.conditions and len(r.conditions) < len(CONDITION_COLUMNS) for r in got)
    assert resolution_s > 900 or partly_known
    assert any(r.terms for r in got) and any(not r.terms for r in got)
    assert any(len(r.methods) > 1 for r in got)
    assert resolution_s > 900 or any(r.max_inlet_c is None for r in got)
    assert got == want


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai"])
def test_monthly_energies_are_the_exact_sums_of_the_hourly_rollups(db: Path, tz: str) -> None:
    store = SqliteHistoryStore(db, readonly=True)
    report = period_report(store, T0, T0 + DAYS * 86400, None, tz=zone(tz))
    store.close()
    hours = _plain_decode(db, 3600, T0, T0 + DAYS * 86400)
    assert len(report.months) == 3  # January, February, the first days of March
    for label, month in report.months:
        part = [h for h in hours if month.start_s <= h.start_s < month.end_s]
        assert month.facility_kwh == math.fsum(h.facility_j for h in part) / 3.6e6, label
        assert month.it_kwh == math.fsum(h.it_j for h in part) / 3.6e6, label
        assert month.coverage_ratio == math.fsum(h.covered_s for h in part) / (month.end_s - month.start_s)
    january = dict(report.months)["2026-01"]
    assert january.gaps and any(g.end_s - g.start_s == 86400 for g in january.gaps)  # the missing day
    assert report.total.facility_kwh == math.fsum(h.facility_j for h in hours) / 3.6e6


@pytest.mark.parametrize("column", ["facility_j", "cond_outdoor_dry_bulb_c", "max_inlet_c"])
def test_an_inf_in_any_rollup_column_is_refused(tmp_path: Path, column: str) -> None:
    path = tmp_path / "h.sqlite"
    store = SqliteHistoryStore(path)
    store.import_site_intervals(_intervals()[:200])
    store.close()
    with sqlite3.connect(path) as conn:  # what an unchecked importer from before the checks could store
        conn.execute(f"UPDATE site_rollup SET {column} = -9e999 WHERE start_s = ?", (T0 + 3600,))
    store = SqliteHistoryStore(path, readonly=True)
    with pytest.raises(HistoryQueryError, match="non-finite"):
        store.site_rollups(3600, T0, T0 + 86400)
    assert store.site_rollups(3600, T0 + 7200, T0 + 86400)  # the rows after it are fine
    store.close()


@pytest.mark.parametrize("resolution_s", [3600, 86400])
def test_columns_equal_the_rollup_objects(db: Path, resolution_s: int) -> None:
    """The report's one-query columns hold exactly the rollups' numbers (any store falls back to the objects)."""
    store = SqliteHistoryStore(db, readonly=True)
    fast = rollup_columns(store, resolution_s, T0, T0 + DAYS * 86400)
    slow = columns_from_rollups(resolution_s, store.site_rollups(resolution_s, T0, T0 + DAYS * 86400))
    store.close()
    assert len(fast) > 0 and "renewable_j" in fast.terms
    assert resolution_s > 3600 or None in fast.outdoor_dry_bulb_c  # some hours never knew it
    assert fast == slow
    assert fast.methods == {"counter", "integrated"} and fast.it_categories == {1, 2, 3} and fast.sources == {"import"}


def test_postgres_columns_equal_its_rollup_objects(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.history.postgres.store import PostgresHistoryStore

    store = PostgresHistoryStore(pg_url, site="s")
    store.import_site_intervals(_intervals()[:2000])  # 21 days, a missing one among them
    store.close()
    store = PostgresHistoryStore(pg_url, site="s", readonly=True)
    slow = columns_from_rollups(3600, store.site_rollups(3600, T0, T0 + DAYS * 86400))
    with monkeypatch.context() as m:  # one whole-site agent: read as stored, never through the rollup objects
        m.setattr(store, "site_rollups", lambda *a: pytest.fail("the one-agent read built rollup objects"))
        fast = rollup_columns(store, 3600, T0, T0 + DAYS * 86400)
    report = period_report(store, T0, T0 + DAYS * 86400, None)
    store.close()
    assert len(fast) > 400 and "renewable_j" in fast.terms and None in fast.outdoor_dry_bulb_c
    assert fast == slow
    assert report.months[0][1].facility_kwh == math.fsum(slow.facility_j) / 3.6e6  # all in January
