"""CPU of one device-poll through the whole agent pipeline, in one process (issue 17).

What `bench/site_scale.py` measures from outside (`pue-agent run` against net-snmp `snmpd`), here in process so a
profiler can see it: N apc-rpdu2 devices on loopback `snmpd`, the real `Agent` with the SQLite history writer as
`run` builds it, every device polled once per round, a site tick and a history flush after each round. Prints
the process CPU (all threads: the loop, the writer, the tick thread) per device-poll, and on Linux the same split
by thread (from ``/proc/self/task``: 10 ms ticks, so give it enough polls), and the loop's CPU for each round's
polls (least and median of the rounds: on a busy or shared machine the least is the steadiest figure to compare).

    .venv/bin/python bench/pipeline.py --devices 500 --rounds 20
    .venv/bin/py-spy record --rate 200 --format raw -o out.raw -- .venv/bin/python bench/pipeline.py
    .venv/bin/python bench/pipeline.py --cycles    # cyclic garbage left by the pipeline (docs/scale.md: the GC policy)
    .venv/bin/python bench/pipeline.py --devices 1000 --steps   # the profile decode and the /metrics text alone

Polls run in bursts of N here (`asyncio.gather`), not spread over the interval as `run` spreads them, so the
figure is the pipeline's CPU, not the latency a site sees.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import gc
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from netutil import free_udp_range  # noqa: E402
from poll import Snmpd, _profile_columns  # noqa: E402
from site_scale import site_yaml  # noqa: E402

from agent.app.run import GIL_SWITCH_INTERVAL_S  # noqa: E402
from agent.app.runtime import Agent  # noqa: E402
from agent.config.site import load_config  # noqa: E402
from agent.history import HistoryWriter  # noqa: E402
from agent.history.factory import open_history_store  # noqa: E402
from agent.site.conditions import setpoint_ranges  # noqa: E402


async def _rounds(agent: Agent, writer: HistoryWriter, count: int, loop_s: list[float] | None = None) -> None:
    for _ in range(count):
        start = time.thread_time()
        await asyncio.gather(*(agent.poll(d.name) for d in agent.cfg.devices))
        if loop_s is not None:  # the loop's own CPU for the round's polls (ns clock, not /proc's 10 ms ticks)
            loop_s.append(time.thread_time() - start)
        await agent.site_tick()
        writer.flush(60)


async def _measure(agent: Agent, writer: HistoryWriter, rounds: int, cycles: bool) -> str:
    await _rounds(agent, writer, 3)  # warm: profiles' row caches, the writer's first transaction
    ok = sum(s.ok for s in agent.state.snapshots.values())
    n = len(agent.cfg.devices)
    if cycles:
        gc.collect()
        gc.disable()
        try:
            await _rounds(agent, writer, rounds)
            found = gc.collect()
            gc.set_debug(gc.DEBUG_SAVEALL)
            await _rounds(agent, writer, 1)
            gc.collect()
            kinds = collections.Counter(type(o).__name__ for o in gc.garbage).most_common(8)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        return f"{n} devices ({ok} answering), {rounds} rounds: {found} unreachable objects; by type {kinds}"
    threads = _thread_cpu_s()
    cpu, wall = time.process_time(), time.perf_counter()
    loop_s: list[float] = []
    await _rounds(agent, writer, rounds, loop_s)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    loop_s.sort()
    line = (
        f"{n} devices ({ok} answering), {rounds} rounds: {1000 * cpu / (n * rounds):.3f} ms of process CPU per "
        f"device-poll, {n * rounds / wall:.0f} polls/s; polls' loop CPU per round, least / median "
        f"{1000 * loop_s[0] / n:.3f} / {1000 * loop_s[len(loop_s) // 2] / n:.3f} ms a poll"
    )
    if threads:  # Linux: the same split by thread (the loop, the history writer, the rest: the site tick)
        after = _thread_cpu_s()
        used = {tid: after[tid] - threads.get(tid, 0.0) for tid in after}
        loop = used.pop(threading.get_native_id(), 0.0)
        writer_s = used.pop(writer._thread.native_id, 0.0) if writer._thread and writer._thread.native_id else 0.0
        per = 1000 / (n * rounds)
        line += f"; loop {per * loop:.3f}, writer {per * writer_s:.3f}, other threads {per * sum(used.values()):.3f} ms"
    return line


async def _steps(agent: Agent, writer: HistoryWriter) -> str:
    """Two steps of a poll timed alone on the pipeline's real data (least of many repeats, in microseconds per
    device-poll): the profile decode of one device's answer, and the /metrics text of every device's snapshot."""
    from agent.devices import readings
    from agent.export.device_series import DeviceSeries

    captured: list[tuple[object, ...]] = []
    decode = readings.decode_objects

    def spy(*args: object) -> readings.DeviceReadout:
        captured.append(args)
        return decode(*args)  # type: ignore[arg-type]

    await _rounds(agent, writer, 3)  # warm, as _measure does
    readings.decode_objects = spy  # type: ignore[assignment]
    try:
        await _rounds(agent, writer, 1)
    finally:
        readings.decode_objects = decode
    args = captured[-1]
    decode_s = min(_timed(lambda: [decode(*args) for _ in range(2000)]) for _ in range(20)) / 2000  # type: ignore[arg-type]
    state, names = agent.state, [d.name for d in agent.cfg.devices]
    series = DeviceSeries(agent.cfg, state)
    for name in names:
        series.on_snapshot(state.snapshots[name], state)
    series.readings_text(time.time(), False)

    def repoll() -> None:  # every device's snapshot replaced by a new one of the same shape, as a poll leaves it
        for name in names:
            snap = state.snapshots[name] = dataclasses.replace(state.snapshots[name])
            series.on_snapshot(snap, state)

    series_s = min(_timed(repoll) for _ in range(25)) / len(names)
    return (
        f"{len(names)} devices: decode_objects {1e6 * decode_s:.1f} us a poll; "
        f"DeviceSeries.on_snapshot {1e6 * series_s:.1f} us a poll (least of 20 and 25 repeats)"
    )


def _timed(work: Callable[[], object]) -> float:
    start = time.thread_time()
    work()
    return time.thread_time() - start


def _thread_cpu_s() -> dict[int, float]:
    """CPU seconds of each thread of this process (user + system, from /proc; {} where there is none)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    try:
        for tid in os.listdir("/proc/self/task"):
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks
    except OSError:
        return {}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20, help="rounds measured, after 3 to warm up")
    parser.add_argument("--cycles", action="store_true", help="count the cyclic garbage instead of the CPU")
    parser.add_argument(
        "--steps", action="store_true", help="time the profile decode and the /metrics text of a poll alone"
    )
    args = parser.parse_args(argv)
    if args.devices < 1 or args.rounds < 1:
        parser.error("--devices and --rounds must be at least 1")
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)  # as `run` sets it
    work = Path(tempfile.mkdtemp(prefix="pue-pipeline-"))
    base = free_udp_range(args.devices, tcp=False)
    snmpd = Snmpd(base, args.devices, work, _profile_columns())
    writer = None
    try:
        time.sleep(2.0)  # snmpd binding its ports
        (work / "site.yaml").write_text(site_yaml(args.devices, base, "v2c", 15.0, work / "history.sqlite"))
        cfg, profiles = load_config(work / "site.yaml")
        store = open_history_store(cfg, work, db=work / "history.sqlite", exclusive=True)
        writer = HistoryWriter(store, cfg, setpoint_ranges=setpoint_ranges(cfg, profiles))  # type: ignore[arg-type]
        agent = Agent(cfg, profiles, observers=[writer])
        if args.steps:
            print(asyncio.run(_steps(agent, writer)), flush=True)
        else:
            print(asyncio.run(_measure(agent, writer, args.rounds, args.cycles)), flush=True)
    finally:
        if writer is not None:
            writer.close()
        snmpd.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
