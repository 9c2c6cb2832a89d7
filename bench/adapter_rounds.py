"""One protocol adapter polling many devices in rounds: CPU per device-poll, polls/s, latency, requests per poll.

Shared by ``bench/poll_modbus.py`` and ``bench/poll_bacnet.py``: a first round (connections, sessions,
discovery) measured apart, then ``rounds`` steady rounds of every device, at most ``concurrency`` in flight.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Any


async def adapter_rounds(
    adapter: Any, client: Any, configs: Sequence[Any], profile: Any, rounds: int, concurrency: int
) -> dict[str, float]:
    """``client.requests`` counts the requests the adapter sent; every readout must have no problems."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(device: Any, sink: list[float]) -> None:
        async with gate:
            t0 = time.perf_counter()
            readout = await adapter.read(device, profile)
            sink.append(time.perf_counter() - t0)
            assert not readout.problems, readout.problems

    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(d, []) for d in configs))
    first_cpu, first_wall = time.process_time() - c0, time.perf_counter() - w0
    requests0 = client.requests
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(one(d, latencies) for d in configs))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    polls = rounds * len(configs)
    requests = client.requests - requests0
    await adapter.close()
    return {
        "polls_per_s": polls / wall,
        "cpu_ms_per_poll": 1000 * cpu / polls,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else 0.0,
        "requests_per_poll": requests / polls,
        "first_round_cpu_s": first_cpu,
        "first_round_wall_s": first_wall,
    }


def row(devices: int, case: str, r: dict[str, float]) -> str:
    """One line of the bench's table (header: devices, case, polls/s, CPU ms/poll, p50, p99, req/poll)."""
    return (
        f"{devices:>8} {case:<10}{r['polls_per_s']:>9.0f}{r['cpu_ms_per_poll']:>13.2f}{r['p50_ms']:>9.1f}"
        f"{r['p99_ms']:>9.1f}{r['requests_per_poll']:>10.1f}   first round: "
        f"{r['first_round_cpu_s']:.2f} s CPU, {r['first_round_wall_s']:.2f} s wall"
    )
