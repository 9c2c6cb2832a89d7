"""Soak test: the agent against the twin (real SNMP on loopback), accelerated, watching for leaks.

Runs ``TwinLiveSite`` (configs/twin-site.yaml, 22 devices) and the ``Agent`` with history in one
event loop for ``--duration`` seconds of wall time at ``--speed`` simulated seconds per second, and
samples resident memory, open file descriptors and poll lateness (how late each device's poll
started relative to its previous one plus the interval). After ``--warmup`` it prints the growth.

The twin's devices are pysnmp command responders in the same process, and pysnmp's USM keeps one
timeline entry per incoming SNMPv3 message for 300 s of wall time: RSS climbs for the first five
minutes whatever the agent does, so the default warm-up (360 s) ends after that cache is full.
``--objects`` prints which object types grew after the warm-up.

Run: ``.venv/bin/python bench/soak.py --duration 660 --speed 600 --objects``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import logging
import os
import statistics
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests"))

from netutil import on_loopback  # noqa: E402

from agent.app.runtime import Agent  # noqa: E402
from agent.config.site import load_config  # noqa: E402
from agent.devices.readings import DeviceSnapshot  # noqa: E402
from agent.history import HistoryWriter, SqliteHistoryStore  # noqa: E402
from agent.site.poller import AgentState, SiteState  # noqa: E402
from twin.live import TwinLiveSite  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _quantile_ms(values: list[float], q: float) -> float:
    """q-quantile of sorted ``values`` [s] in ms (nan when empty)."""
    if not values:
        return float("nan")
    return 1000 * values[min(len(values) - 1, int(q * len(values)))]


class Lateness:
    """Poll start lateness per device: (this start - previous start) - interval [s]."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.last: dict[str, float] = {}
        self.window: list[float] = []
        self.polls = 0
        self.failures = 0

    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        self.polls += 1
        self.failures += 0 if snapshot.ok else 1
        prev = self.last.get(snapshot.device)
        if prev is not None:
            self.window.append(snapshot.timestamp_s - prev - self.interval_s)
        self.last[snapshot.device] = snapshot.timestamp_s

    def on_site(self, site: SiteState, state: AgentState) -> None:
        return None

    def take(self) -> list[float]:
        out, self.window = self.window, []
        return out


async def soak(
    duration_s: float,
    speed: float,
    interval_s: float,
    sample_s: float,
    warmup_s: float,
    trace: bool = False,
    objects: bool = False,
) -> int:
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    cfg = on_loopback(cfg, interval_s=interval_s, timeout_s=1.0, retries=1)
    site = TwinLiveSite(cfg, profiles, speed=speed)
    async with site.serving(tick_s=0.2):
        history = Path(tempfile.mkdtemp(prefix="pue-soak-")) / "history.sqlite"
        writer = HistoryWriter(SqliteHistoryStore(history), cfg)
        lateness = Lateness(interval_s)
        agent = Agent(cfg, profiles, observers=[writer, lateness])
        agent.start_http()
        agent.start_scheduler()
        print(
            f"soak: {len(cfg.devices)} twin devices, poll every {interval_s:g} s, speed x{speed:g}, "
            f"{duration_s:g} s wall ({duration_s * speed / 3600:.1f} simulated hours); history {history}"
        )
        print(
            f"{'wall_s':>7} {'sim_h':>6} {'rss_mib':>8} {'fds':>4} {'polls':>6} {'fail':>5} "
            f"{'late_p50_ms':>11} {'late_p99_ms':>11} {'late_max_ms':>11} {'pue':>6}",
            flush=True,
        )
        loop = asyncio.get_running_loop()
        start = loop.time()
        baseline: tuple[float, int] | None = None
        traced: tracemalloc.Snapshot | None = None
        census: collections.Counter[str] | None = None
        if trace:
            tracemalloc.start(3)
        rows: list[tuple[float, float, int]] = []
        try:
            while (elapsed := loop.time() - start) < duration_s:
                await asyncio.sleep(sample_s)
                elapsed = loop.time() - start
                gc.collect()
                rss, fds, late = rss_mib(), open_fds(), sorted(lateness.take())
                rows.append((elapsed, rss, fds))
                if baseline is None and elapsed >= warmup_s:
                    baseline = (rss, fds)
                    traced = tracemalloc.take_snapshot() if trace else None
                    census = _census() if objects else None
                pue = agent.state.site.live.value if agent.state.site is not None else None
                p50, p99, worst = (_quantile_ms(late, q) for q in (0.5, 0.99, 1.0))
                print(
                    f"{elapsed:7.0f} {elapsed * speed / 3600:6.1f} {rss:8.1f} {fds:4d} {lateness.polls:6d} "
                    f"{lateness.failures:5d} {p50:11.1f} {p99:11.1f} {worst:11.1f} "
                    f"{pue if pue is not None else float('nan'):6.3f}",
                    flush=True,
                )
            if census is not None:
                grown = (_census() - census).most_common(12)
                print("object types that grew since the warm-up (gc-tracked objects, by type):")
                for name, count in grown:
                    print(f"  {count:+8d}  {name}")
                if not grown:
                    print("  none")
            if traced is not None:
                gc.collect()
                growth = tracemalloc.take_snapshot().compare_to(traced, "traceback")
                print("largest Python allocation growth since the warm-up (tracemalloc):")
                for stat in growth[:8]:
                    frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in stat.traceback]
                    print(
                        f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  " + " < ".join(frames[:4])
                    )
        finally:
            await agent.stop()
            writer.close()
    if baseline is None:
        print("soak: shorter than the warm-up; no growth figures")
        return 0
    rss0, fds0 = baseline
    rss1, fds1 = rows[-1][1], rows[-1][2]
    after = [r for r in rows if r[0] >= warmup_s]
    span_h = (after[-1][0] - after[0][0]) / 3600 if len(after) > 1 else 0.0
    slope = (
        statistics.linear_regression([r[0] for r in after], [r[1] for r in after]).slope * 3600
        if len(after) > 2
        else float("nan")
    )
    print(
        f"after warm-up ({warmup_s:g} s): RSS {rss0:.1f} -> {rss1:.1f} MiB ({rss1 - rss0:+.1f} MiB, "
        f"trend {slope:+.1f} MiB per wall hour over {span_h * 60:.1f} min); open fds {fds0} -> {fds1} "
        f"({fds1 - fds0:+d}); polls {lateness.polls}, failed {lateness.failures}"
    )
    return 0


def _census() -> collections.Counter[str]:
    """How many gc-tracked objects of each type are alive (cheap enough to take twice, unlike tracemalloc)."""
    gc.collect()
    return collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="wall seconds (default 600)")
    parser.add_argument("--speed", type=float, default=600.0, help="simulated seconds per wall second")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval [s] (wall)")
    parser.add_argument("--sample", type=float, default=15.0, help="sampling period [s]")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace Python allocations and print the largest growth since the warm-up",
    )
    parser.add_argument(
        "--objects", action="store_true", help="count live objects by type at the warm-up and the end; print what grew"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=360.0,
        help="warm-up before the baseline [s] (past pysnmp's 300 s USM timeline cache)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # skipped polls are counted, not logged
    return asyncio.run(
        soak(args.duration, args.speed, args.interval, args.sample, args.warmup, args.tracemalloc, args.objects)
    )


if __name__ == "__main__":
    raise SystemExit(main())
