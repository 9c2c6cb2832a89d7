"""The store and the writer: counters with wraps/resets/gaps, restarts, disk problems, kill -9."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from agent.config.site import SiteConfig
from agent.devices.readings import DeviceSnapshot
from agent.errors import HistoryBusyError, HistoryQueryError, HistoryStoreError
from agent.history.database import SCHEMA_VERSION
from agent.history.records import SiteInterval
from agent.history.store import SqliteHistoryStore
from agent.history.writer import HistoryCollector, HistoryWriter
from agent.site.poller import AgentState
from models.metrics import IntervalSeries, period_metrics
from tests.history.conftest import ROOT, make_site

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY = 86400.0


def _series(store: SqliteHistoryStore, resolution: int, start: float, end: float) -> IntervalSeries:
    rows = store.site_rollups(resolution, start, end)
    return IntervalSeries.from_arrays(
        [r.start_s for r in rows],
        [float(r.resolution_s) for r in rows],
        [r.covered_s for r in rows],
        [r.facility_j for r in rows],
        [r.it_j for r in rows],
    )


def test_schema_version_and_wal(store: SqliteHistoryStore) -> None:
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(HistoryStoreError, match="upgrade pue-agent"):
        SqliteHistoryStore(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryStoreError, match=r"junk\.sqlite"):
        SqliteHistoryStore(path)


def test_pue_known_answer_through_wraps_resets_and_gaps(cfg: SiteConfig, store: SqliteHistoryStore) -> None:
    # facility 150 kW, IT 60 + 40 kW: PUE 1.5 exactly, whatever the registers do
    site = make_site(cfg, store, modulus_j={"meter-main": 2.0e9, "ups-b": 1.0e9})
    n = 24 * 60  # one day of 60 s ticks
    down = set(range(600, 630))  # ups-b silent for 30 polls
    for k in range(n + 1):
        site.step(
            T0 + 60.0 * k,
            60.0,
            down=frozenset({"ups-b"}) if k in down else frozenset(),
            reset=frozenset({"ups-a"}) if k == 900 else frozenset(),
        )
    m = period_metrics(_series(store, 3600, T0, T0 + DAY), T0, T0 + DAY, min_coverage=0.9)
    assert m.pue == pytest.approx(1.5, rel=1e-9)
    # 30 down polls break 31 intervals (the first one back has no baseline); both register wraps counted
    assert m.coverage_ratio == pytest.approx((n - 31) / n)
    assert len(m.gaps) == 1 and m.gaps[0].missing_s == pytest.approx(31 * 60.0)
    assert m.it_kwh == pytest.approx(100.0 * (n - 31) / 60.0)
    # every resolution holds the same energy
    for resolution in (60, 900, 86400):
        again = period_metrics(_series(store, resolution, T0, T0 + DAY), T0, T0 + DAY, min_coverage=0.9)
        assert again.facility_kwh == pytest.approx(m.facility_kwh)


def test_device_energy_is_monotonic_across_restarts(cfg: SiteConfig, tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store = SqliteHistoryStore(path)
    site = make_site(cfg, store)
    for k in range(10):
        site.step(T0 + 60.0 * k, 60.0)
    store.close()
    # restart: the agent's counter totals start again at the (unchanged) register values, 5 min later
    store = SqliteHistoryStore(path)
    site2 = make_site(cfg, store)
    site2.raw_j = dict(site.raw_j)
    for k in range(15, 25):
        site2.step(T0 + 60.0 * k, 60.0 * (6 if k == 15 else 1))
    rows = store.device_energy("meter-main", "energy_j", 0, 2e10)
    totals = [r.total_j for r in rows]
    assert totals == sorted(totals)
    # the register kept counting during the downtime, so that energy is kept: total = power x time
    assert totals[-1] - totals[0] == pytest.approx(150_000.0 * 60.0 * 24)
    assert store.count("site_interval") == 9 + 9  # no interval spans the restart
    store.close()


def test_integrated_energy_restarting_from_zero_stays_monotonic(cfg: SiteConfig, tmp_path: Path) -> None:
    from agent.history.records import DeviceEnergyRow

    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    store.record_poll(
        "ups-a", T0, True, 0.1, None, [], [DeviceEnergyRow("ups-a", "energy_j", T0, 5e6, 5e6, "integrated")]
    )
    writer = HistoryWriter(store, cfg)
    state = AgentState()
    from agent.devices.readings import DeviceSnapshot
    from agent.site.poller import DeviceEnergy

    for k, total in enumerate((0.0, 1e6, 2e6), start=1):
        state.energy[("ups-a", "energy_j")] = DeviceEnergy(total, "integrated", T0 + 60 * k)
        writer.on_snapshot(DeviceSnapshot("ups-a", T0 + 60 * k, 0.1, True), state)
    writer.flush()
    assert [r.total_j for r in store.device_energy("ups-a", "energy_j", 0, 2e10)] == [5e6, 5e6, 6e6, 7e6]
    store.close()


class BrokenStore:
    """A store whose disk is gone."""

    def __getattr__(self, name: str) -> object:
        def fail(*_args: object, **_kwargs: object) -> None:
            raise HistoryStoreError("history database /x.sqlite: disk I/O error")

        return fail


def test_writer_never_raises_and_logs_once(cfg: SiteConfig, caplog: pytest.LogCaptureFixture) -> None:
    writer = HistoryWriter(BrokenStore(), cfg)  # type: ignore[arg-type]
    site = make_site(cfg, BrokenStore())  # type: ignore[arg-type]
    site.writer = writer
    with caplog.at_level(logging.ERROR, logger="agent.history.writer"):
        for k in range(5):
            site.step(T0 + 60.0 * k, 60.0)
    assert writer.write_errors >= 5 and not writer.healthy
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


def test_failed_interval_write_is_a_gap_not_a_double_count(cfg: SiteConfig, store: SqliteHistoryStore) -> None:
    site = make_site(cfg, store)
    for k in range(5):
        site.step(T0 + 60.0 * k, 60.0)
    real = store.record_site_interval
    store.record_site_interval = BrokenStore().record_site_interval  # type: ignore[method-assign]
    site.step(T0 + 300.0, 60.0)
    store.record_site_interval = real  # type: ignore[method-assign]
    for k in range(6, 10):
        site.step(T0 + 60.0 * k, 60.0)
    assert site.writer.healthy
    m = period_metrics(_series(store, 60, T0, T0 + 540), T0, T0 + 540, min_coverage=0.5)
    assert m.pue == pytest.approx(1.5) and m.coverage_ratio == pytest.approx(8 / 9)


class BusyStore:
    """A store another connection keeps locked until ``busy`` is cleared; records the polls it stored."""

    def __init__(self) -> None:
        self.busy = True
        self.polls: list[float] = []

    def record_poll(self, device: str, timestamp_s: float, *_args: object) -> None:
        if self.busy:
            raise HistoryBusyError("history database /x.sqlite is busy (another connection holds its lock)")
        self.polls.append(timestamp_s)

    def last_device_energy(self, *_args: object) -> None:
        return None

    def close(self) -> None:
        pass


def test_writes_wait_while_busy_and_beyond_the_bound_are_dropped_and_counted(cfg: SiteConfig) -> None:
    store = BusyStore()
    writer = HistoryWriter(store, cfg, max_pending=5, retry_s=0.01)  # type: ignore[arg-type]
    state = AgentState()
    for k in range(8):
        writer.on_snapshot(DeviceSnapshot("ups-a", T0 + k, 0.1, True), state)
    assert writer.dropped == 3 and writer.pending == 5 and writer.write_errors == 0
    assert not writer.flush(timeout_s=0.2)  # still busy: nothing written, nothing lost
    store.busy = False
    assert writer.flush(timeout_s=10.0)
    assert store.polls == [T0 + k for k in range(5)]  # the first five, in order
    registry = CollectorRegistry()
    registry.register(HistoryCollector(writer))
    assert registry.get_sample_value("pue_history_writes_dropped_total") == 3
    assert registry.get_sample_value("pue_history_write_errors_total") == 0
    assert registry.get_sample_value("pue_history_pending_writes") == 0
    # busy for good at shutdown: close() gives up after its timeout, counting what it could not write
    store.busy = True
    writer.on_snapshot(DeviceSnapshot("ups-a", T0 + 9, 0.1, True), state)
    started = time.monotonic()
    writer.close(timeout_s=0.3)
    assert time.monotonic() - started < 5.0
    assert writer.dropped == 4 and writer.pending == 0


def test_close_writes_what_waits_for_a_busy_database(cfg: SiteConfig) -> None:
    store = BusyStore()
    writer = HistoryWriter(store, cfg, retry_s=0.01)  # type: ignore[arg-type]
    for k in range(3):
        writer.on_snapshot(DeviceSnapshot("ups-a", T0 + k, 0.1, True), AgentState())
    threading.Timer(0.5, lambda: setattr(store, "busy", False)).start()  # the import holding it finishes
    writer.close(timeout_s=30.0)
    assert store.polls == [T0, T0 + 1, T0 + 2] and writer.dropped == 0


def test_overlapping_site_intervals_are_never_stored(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store = SqliteHistoryStore(path)
    store.record_site_interval(SiteInterval(T0, 60.0, 60.0, 9e6, 6e6, 0.0, 0.0, "counter", 1))
    store.record_site_interval(SiteInterval(T0 + 60.0, 60.0, 60.0, 9e6, 6e6, 0.0, 0.0, "counter", 1))  # touching
    # a second agent polling at another phase: its interval straddles two stored ones
    with pytest.raises(HistoryQueryError, match="overlaps one already stored"):
        store.record_site_interval(SiteInterval(T0 + 30.0, 60.0, 60.0, 9e6, 6e6, 0.0, 0.0, "counter", 1))
    with pytest.raises(HistoryQueryError, match="overlaps"):  # inside a stored one
        store.record_site_interval(SiteInterval(T0 + 70.0, 10.0, 10.0, 1e6, 1e6, 0.0, 0.0, "counter", 1))
    store.close()
    # the database refuses it whoever writes: a file from before the trigger gets it at its next writable open
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER site_interval_no_overlap")
    raw.commit()
    SqliteHistoryStore(path).close()
    with pytest.raises(sqlite3.IntegrityError, match="overlaps"):
        raw.execute(
            "INSERT INTO site_interval (start_s, duration_s, covered_s, facility_j, it_j, cooling_covered_s,"
            " cooling_j, method, source) VALUES (?, 60, 60, 1, 1, 0, 0, 'counter', 'agent')",
            (T0 - 59.0,),
        )
    raw.close()
    with SqliteHistoryStore(path, readonly=True) as store:
        assert [iv.start_s for iv in store.site_intervals(0, 2e10)] == [T0, T0 + 60.0]
        assert sum(r.facility_j for r in store.site_rollups(3600, T0, T0 + 3600)) == 18e6  # counted once


def test_read_only_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ro.sqlite"
    SqliteHistoryStore(path).close()
    path.chmod(0o444)
    try:
        with pytest.raises(HistoryStoreError, match="read-only"):
            SqliteHistoryStore(path)
        SqliteHistoryStore(path, readonly=True).close()  # reading it is fine
    finally:
        path.chmod(0o644)


def test_raw_rows_are_purged_rollups_kept(cfg: SiteConfig, store: SqliteHistoryStore) -> None:
    site = make_site(cfg, store)
    for k in range(20):
        site.step(T0 + 60.0 * k, 60.0)
    rollups = store.count("site_rollup")
    deleted = store.purge_raw(T0 + 600.0)
    assert deleted > 0 and store.count("site_rollup") == rollups
    assert store.last_device_energy("meter-main", "energy_j") is not None


WRITER_SCRIPT = textwrap.dedent("""
    import sys
    from tests.history.conftest import make_site
    from agent.config.site import load_config
    from agent.history.store import SqliteHistoryStore
    from pathlib import Path
    cfg, _ = load_config(Path("configs/demo-site.yaml"))
    cfg = cfg.model_copy(update={"devices": cfg.devices[:3], "poll_interval_s": 60.0})
    store = SqliteHistoryStore(sys.argv[1])
    site = make_site(cfg, store)
    t = 1767225600.0
    k = 0
    while True:
        site.step(t + 60.0 * k, 60.0)
        if k > 0 and site.writer.healthy:
            print(t + 60.0 * (k - 1), flush=True)  # interval [k-1, k] is committed
        k += 1
""")


@pytest.mark.slow
def test_kill_9_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = tmp_path / "writer.log"
    acked: list[float] = []
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, str(script), str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            text=True,
        ) as proc,
    ):
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(acked) < 300 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(float(line))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 300, log.read_text()
    store = SqliteHistoryStore(path)
    assert store.integrity_check() == "ok"
    stored = {iv.start_s for iv in store.site_intervals(0, 2e10)}
    assert set(acked) <= stored
    totals = [r.total_j for r in store.device_energy("meter-main", "energy_j", 0, 2e10)]
    assert totals == sorted(totals)
    store.close()


def test_a_closed_store_fails_with_a_history_error_naming_the_file(tmp_path: Path) -> None:
    """sqlite3.ProgrammingError (a closed connection) has no sqlite_errorcode: translating it once failed."""
    path = tmp_path / "h.sqlite"
    store = SqliteHistoryStore(path)
    store.close()
    with pytest.raises(HistoryStoreError, match=str(path)):
        store.site_intervals(0.0, 1.0)
