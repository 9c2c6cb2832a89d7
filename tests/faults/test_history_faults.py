"""The history database turns read-only or its disk fills up while the agent runs.

SQLite's own guards stand in for the operating system (the tests run as root, where chmod does not
stop writes): ``PRAGMA query_only`` gives "attempt to write a readonly database", ``PRAGMA
max_page_count`` gives SQLITE_FULL "database or disk is full". Expected: polling and PUE go on, the
failure is logged once (and once more when writing works again), rows stored before are all there."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from agent.app.runtime import Agent
from agent.config.site import SiteConfig, load_config
from agent.devices.profiles import ProfileRegistry
from agent.errors import HistoryStoreError
from agent.history import HistoryWriter, SqliteHistoryStore
from twin.serve.site import MinimalSite

sys.path.append(str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))
from netutil import free_port, free_udp_range, on_loopback, sample, scrape
from sitectl import ROOT, demo_config, site_and_agent

pytestmark = pytest.mark.e2e


def _break(store: SqliteHistoryStore, how: str) -> None:
    db = store._db  # the store's own connection: the fault must hit its writes
    if how == "read-only":
        db.execute("PRAGMA query_only = ON")
    else:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")


def _repair(store: SqliteHistoryStore, how: str) -> None:
    db = store._db
    if how == "read-only":
        db.execute("PRAGMA query_only = OFF")
    else:
        db.execute("PRAGMA max_page_count = 1073741823")


def _polls(path: Path) -> int:
    # the store counts packed hours too (an hour may close while the test runs)
    with SqliteHistoryStore(path, readonly=True) as store:
        return store.count("polls")


@pytest.mark.parametrize("how", ["read-only", "disk-full"])
def test_history_failure_never_stops_polling_nor_loses_rows(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    cfg, profiles = demo_config(free_udp_range(7))
    # what is tested is that a broken history never stops polling or PUE: a busy machine's slow SNMP reply
    # must not make the PUE invalid by itself (seen once in a full run with the other core loaded at 0.5 s)
    tolerant = tuple(d.model_copy(update={"timeout_s": 1.5, "retries": 1}) for d in cfg.devices)
    cfg = cfg.model_copy(update={"devices": tolerant})
    path = tmp_path / "history.sqlite"
    store = SqliteHistoryStore(path)
    writer = HistoryWriter(store, cfg)
    counts: dict[str, int] = {}
    pue_while_broken: list[float | None] = []

    async def main() -> None:
        async with site_and_agent(cfg, profiles, observers=[writer]) as (site, agent):
            for _ in range(4):
                site.update()
                await agent.poll_all_once()
                await asyncio.sleep(0.3)
            writer.flush()  # the writer's thread has stored these rounds
            counts["before"] = _polls(path)
            # grow the file a little so that a full disk bites on the next writes
            _break(store, how)
            for _ in range(12):
                site.update()
                await agent.poll_all_once()
                pue_while_broken.append(agent.state.site.live.value if agent.state.site else None)
                await asyncio.sleep(0.3)
            writer.flush()
            counts["broken"] = _polls(path)
            assert writer.write_errors >= 12
            if how == "read-only":
                assert not writer.healthy
            _repair(store, how)
            for _ in range(3):
                site.update()
                await agent.poll_all_once()
                await asyncio.sleep(0.3)
            writer.flush()
            counts["after"] = _polls(path)
            assert all(agent.state.fresh(d.name, agent.state.site.timestamp_s, 2.0) for d in cfg.devices)

    try:
        asyncio.run(main())
    finally:
        writer.close()
    assert counts["before"] == 4 * len(cfg.devices)
    assert counts["broken"] >= counts["before"]  # nothing stored before is lost
    assert counts["after"] >= counts["broken"] + 3 * len(cfg.devices)  # writing works again
    assert all(p is not None for p in pue_while_broken[1:])  # PUE goes on without history
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "history" in r.getMessage()]
    again = [r for r in caplog.records if "history: writing again" in r.getMessage()]
    if how == "disk-full":
        # a nearly full disk still takes the writes that fit in free pages: the writer's state flips
        # and it logs each flip (once per state change, as documented), never more than that
        assert 1 <= len(errors) == len(again)
        # SQLite rolls back by itself on SQLITE_FULL: the store no longer hides that behind a failed ROLLBACK
        assert "full" in errors[0].getMessage(), errors[0].getMessage()
        return
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "readonly" in errors[0].getMessage() or "read-only" in errors[0].getMessage()
    assert len(again) == 1


LOCK_S = 12.0


def _staleness(url: str, devices: list[str]) -> float:
    """Seconds since the stalest device's last successful poll, as /metrics says (served by its own thread)."""
    text = scrape(url)
    last = [sample(text, "pue_device_last_success_timestamp_seconds", device=d) for d in devices]
    return time.time() - min(v if v is not None else 0.0 for v in last)


def test_a_locked_history_database_never_stalls_polling_and_loses_nothing(tmp_path: Path) -> None:
    """Another connection holds the database (BEGIN EXCLUSIVE, as a long `pue-agent import` does) for 12 s:
    every device keeps its 1 s schedule meanwhile, and once the lock goes the waiting writes are all stored."""
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    cfg = on_loopback(cfg, interval_s=1.0, timeout_s=0.5, retries=0, pue_window_s=60.0)
    path = tmp_path / "history.sqlite"
    writer = HistoryWriter(SqliteHistoryStore(path), cfg)
    devices = [d.name for d in cfg.devices]
    staleness_s: list[float] = []
    window: dict[str, float] = {}

    def hold_the_lock(url: str) -> None:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and _staleness(url, devices) > 3.0:  # every device read once
            time.sleep(0.2)
        time.sleep(2.0)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        window["locked"] = time.time()
        while time.time() - window["locked"] < LOCK_S:
            staleness_s.append(_staleness(url, devices))
            time.sleep(0.5)
        other.execute("ROLLBACK")
        other.close()
        window["released"] = time.time()

    async def main() -> None:
        async with MinimalSite(cfg, profiles).serving(tick_s=0.2):
            agent = Agent(cfg, profiles, observers=[writer])
            host, port = agent.start_http()
            agent.start_scheduler()
            try:
                holder = asyncio.create_task(asyncio.to_thread(hold_the_lock, f"http://{host}:{port}/metrics"))
                await holder
                await asyncio.sleep(4.0)  # a few intervals after the release
            finally:
                await agent.stop()
                writer.close()

    asyncio.run(main())
    print(
        f"\nlocked {LOCK_S:g} s: stalest device at most {max(staleness_s):.2f} s behind; "
        f"{writer.write_errors} write errors, {writer.dropped} dropped"
    )
    assert len(staleness_s) >= LOCK_S  # sampled every 0.5 s
    # 1 s polls: a device more than 4 s behind missed several polls (the old writer stalled the loop for the lock)
    assert max(staleness_s) < 4.0, [round(s, 1) for s in staleness_s]
    assert writer.write_errors == 0 and writer.dropped == 0
    with sqlite3.connect(path) as db:
        spans = list(db.execute("SELECT start_s, start_s + duration_s FROM site_interval ORDER BY start_s"))
    with SqliteHistoryStore(path, readonly=True) as store:
        polls = store.poll_counts(window["locked"], window["released"])
    # the site intervals through the lock are all stored, back to back: no gap, nothing lost
    assert spans[0][0] < window["locked"] - 1.0 and spans[-1][1] > window["released"] + 1.0
    assert all(abs(a[1] - b[0]) < 1e-6 for a, b in itertools.pairwise(spans)), spans
    assert set(polls) == set(devices)
    assert min(polls.values()) >= LOCK_S - 3, polls  # about one poll a second each, all stored after the lock


EXE = Path(sys.executable).with_name("pue-agent")


@contextmanager
def _site_in_a_thread(cfg: SiteConfig, profiles: ProfileRegistry) -> Iterator[None]:
    """The simulated site in its own thread and event loop, for agents run as `pue-agent run` processes."""
    stop_site = threading.Event()
    ready = threading.Event()

    async def serve() -> None:
        async with MinimalSite(cfg, profiles).serving(tick_s=0.2):
            ready.set()
            while not stop_site.is_set():
                await asyncio.sleep(0.1)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        stop_site.set()
        thread.join(timeout=30)


def _site_yaml(tmp_path: Path, history: Path) -> tuple[Path, SiteConfig, ProfileRegistry]:
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    base = free_udp_range(len(cfg.devices))
    data = yaml.safe_load((ROOT / "configs" / "demo-site.yaml").read_text())
    for i, dev in enumerate(data["devices"]):
        dev.update(port=base + i, timeout_s=0.5, retries=0)
    data.update(poll_interval_s=1, pue_window_s=60, history={"path": str(history)})
    site_yaml = tmp_path / "site.yaml"
    site_yaml.write_text(yaml.safe_dump(data))
    cfg, profiles = load_config(site_yaml)
    return site_yaml, cfg, profiles


def _wait_for_polls(path: Path, more_than: int, timeout_s: float = 30.0) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        try:
            count = _polls(path)
        except (sqlite3.OperationalError, HistoryStoreError):  # not created yet
            count = 0
        if count > more_than:
            return count
        time.sleep(0.3)
    raise AssertionError(f"{path}: no more than {more_than} polls stored within {timeout_s} s")


def test_a_second_agent_on_one_history_file_is_refused(tmp_path: Path) -> None:
    """Two `pue-agent run` on one history file: the second exits 2 naming the file and the first agent's
    pid; the first goes on writing; after the first is killed -9 the lock is gone with it."""
    db = tmp_path / "history.sqlite"
    site_yaml, cfg, profiles = _site_yaml(tmp_path, db)
    with _site_in_a_thread(cfg, profiles):
        log = tmp_path / "first.log"
        with log.open("w") as stderr:
            first = subprocess.Popen(
                [str(EXE), "run", "--config", str(site_yaml), "--listen-port", str(free_port())],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            before = _wait_for_polls(db, 0)
            second = subprocess.run(
                [str(EXE), "run", "--config", str(site_yaml), "--listen-port", str(free_port()), "--duration", "8"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 2, second.stderr[-2000:]
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
            assert str(db) in lines[0] and f"pid {first.pid}" in lines[0], lines[0]
            _wait_for_polls(db, before + 2 * len(cfg.devices))  # the first agent goes on writing
            assert first.poll() is None, log.read_text()[-2000:]
        finally:
            first.kill()  # kill -9: no clean shutdown, the kernel drops its lock
            first.wait(timeout=30)
        third = subprocess.run(
            [str(EXE), "run", "--config", str(site_yaml), "--listen-port", str(free_port()), "--duration", "4"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert third.returncode == 0, third.stderr[-2000:]
    with sqlite3.connect(db) as conn:
        spans = list(conn.execute("SELECT start_s, start_s + duration_s FROM site_interval ORDER BY start_s"))
    assert spans and all(a[1] <= b[0] + 1e-6 for a, b in itertools.pairwise(spans))  # never overlapping


def test_a_shard_writes_no_site_history(tmp_path: Path) -> None:
    """Shards share the site config; a shard sees a share of the devices, so its site intervals would be
    empty (coverage 0) and N shards would write one file: it says so and leaves history alone."""
    db = tmp_path / "history.sqlite"
    site_yaml, _cfg, _profiles = _site_yaml(tmp_path, db)
    run = subprocess.run(
        [
            str(EXE),
            "run",
            "--config",
            str(site_yaml),
            "--listen-port",
            str(free_port()),
            "--shard",
            "1/2",
            "--duration",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "history" in run.stderr and "not written in shard mode" in run.stderr, run.stderr[-2000:]
    assert not db.exists()
