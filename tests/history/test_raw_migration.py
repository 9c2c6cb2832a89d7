"""Schema migrations of the raw rows: a v2 file's rows packed into blocks (v3), a v3 file's hot readings table kept
readable beside v4's readings in the poll rows."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest

from agent.history.store import SqliteHistoryStore
from tests.history.test_compact import T0, _bits, _hot, _key, _poll


def _as_v3(path: Path) -> None:
    """Turn a file of this version into a v3 file: the readings of its poll rows back in the ``readings`` table."""
    db = sqlite3.connect(path)
    names = dict(db.execute("SELECT id, name FROM raw_name").fetchall())
    rows = [
        (device, names[q], names[labels], ts, value)
        for device, ts, data in db.execute("SELECT device, ts_s, data FROM polls WHERE data IS NOT NULL").fetchall()
        for q, labels, value in struct.iter_unpack("<IId", data[1:])
    ]
    assert rows
    db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?)", rows)
    db.executescript("ALTER TABLE polls DROP COLUMN data; PRAGMA user_version=3;")
    db.close()


def _as_v2(path: Path) -> None:
    """Turn a fresh file written with ``pack=False`` into the v2 file the release before v3 wrote."""
    _as_v3(path)
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE raw_block; DROP TABLE raw_name; PRAGMA user_version=2;")
    db.close()


def test_a_v3_store_is_migrated_and_its_hot_readings_read_and_packed(tmp_path: Path) -> None:
    """v4 keeps a poll's readings in its row; a v3 file's hot readings (its table) are read and packed as before."""
    path = tmp_path / "v3.sqlite"
    store = SqliteHistoryStore(path)
    for k in range(50):  # 10:00-10:49: hot rows of the open hour
        _poll(store, T0 + 60.0 * k + 0.25, k)
    before = store.raw_rows("pdu-1", 0, 2e10)
    counts = {t: store.count(t) for t in ("polls", "readings", "device_energy")}
    store.close()
    _as_v3(path)
    store = SqliteHistoryStore(path)
    assert int(store._query_one("PRAGMA user_version")[0]) == 4  # type: ignore[index]
    assert _hot(store, "readings") == 50 * 3  # still in their table
    assert store.raw_rows("pdu-1", 0, 2e10) == before
    assert {t: store.count(t) for t in counts} == counts
    for k in range(50, 70):  # the hour closes: the v3 rows and the v4 ones are packed together
        _poll(store, T0 + 60.0 * k + 0.25, k)
    assert _hot(store, "readings") == 0 and _hot(store, "raw_block") == 1
    after = store.raw_rows("pdu-1", 0, 2e10)
    assert after.readings[: len(before.readings)] == before.readings and len(after.readings) == 70 * 3
    assert store.count("readings") == 70 * 3
    store.close()


def test_a_v2_store_is_migrated_with_equal_counts_values_and_energy(tmp_path: Path) -> None:
    from agent.history.records import SiteInterval

    path = tmp_path / "v2.sqlite"
    store = SqliteHistoryStore(path, pack=False)
    for k in range(200):
        for device in ("pdu-1", "pdu-2"):
            _poll(store, T0 + 60.0 * k + 0.25, k, device)
        if k:
            store.record_site_interval(SiteInterval(T0 + 60.0 * (k - 1), 60.0, 60.0, 9e6, 6e6, 60.0, 2e6, "counter", 1))
    tables = ("polls", "readings", "device_energy", "device_rollup", "site_interval", "site_rollup")
    counts = {t: store.count(t) for t in tables}
    rows = {d: store.raw_rows(d, 0, 2e10) for d in ("pdu-1", "pdu-2")}
    energy = store._query(
        "SELECT device, quantity, resolution_s, start_s, energy_j FROM device_rollup ORDER BY 1, 2, 3, 4"
    )
    assert _hot(store, "raw_block") == 0
    store.close()
    _as_v2(path)
    store = SqliteHistoryStore(path)
    assert int(store._query_one("PRAGMA user_version")[0]) == 4  # type: ignore[index]
    assert _hot(store, "raw_block") == 6 and _hot(store, "polls") == 2 * 20
    assert {t: store.count(t) for t in tables} == counts
    for device, before in rows.items():
        after = store.raw_rows(device, 0, 2e10)
        # poll durations are kept to 0.1 ms once packed; everything else bit for bit
        assert [(_bits(p.timestamp_s), p.ok, p.error_kind) for p in after.polls] == [
            (_bits(p.timestamp_s), p.ok, p.error_kind) for p in before.polls
        ]
        assert [p.duration_s for p in after.polls] == pytest.approx([p.duration_s for p in before.polls], abs=5e-5)
        assert list(map(_key, after.readings)) == list(map(_key, before.readings))
        assert list(map(_key, after.energy)) == list(map(_key, before.energy))
    assert (
        store._query("SELECT device, quantity, resolution_s, start_s, energy_j FROM device_rollup ORDER BY 1, 2, 3, 4")
        == energy
    )
    # and it goes on writing: the next poll continues the device rollup from the packed energy
    _poll(store, T0 + 60.0 * 200 + 0.25, 200, "pdu-1")
    assert store.count("polls") == counts["polls"] + 1
    store.close()
