"""The device poll schedule (agent/app/poll_schedule.py): phases, start-up reads, coalescing a late loop, and
skipping a poll while the device's previous one runs. Real event loop, no sleeping on the interval: the tests
wait on the polls they expect."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent.app.poll_schedule import PollSchedule, first_window_s, phase


def test_every_device_is_due_on_its_own_phase_after_the_start_up_window() -> None:
    devices = [f"pdu-{i:03d}" for i in range(200)]

    async def scenario() -> tuple[float, dict[str, float]]:
        schedule = PollSchedule(30.0, lambda _d: None)
        began = time.time()
        schedule.begin(devices)
        try:
            return began, schedule.next_due_s()
        finally:
            schedule.stop()

    began, due = asyncio.run(scenario())
    assert set(due) == set(devices)
    for device, at in due.items():  # 30 s is longer than the 5 s start-up window: periodic from 5 s on
        assert at - began == pytest.approx(5.0 + phase(device) * 30.0, abs=0.2), device
    assert max(due.values()) - min(due.values()) > 25.0  # spread over the interval, not bunched
    assert first_window_s(15.0, 10_000) == 10.0 and first_window_s(2.0, 10) == 2.0


def test_start_up_read_then_periodic_polls_then_a_blocked_loop_polls_once_not_a_burst() -> None:
    interval = 0.05

    async def scenario() -> tuple[list[str], list[str], float, float, float]:
        loop = asyncio.get_running_loop()
        started: list[str] = []
        three = asyncio.Event()

        def start(device: str) -> None:
            started.append(device)
            if len(started) >= 3:
                three.set()

        schedule = PollSchedule(interval, start)
        schedule.begin(["a"])
        await asyncio.wait_for(three.wait(), 30)  # a few periodic polls
        first_due = schedule.next_due_s()["a"]
        before = list(started)
        one_more = asyncio.Event()

        def start_more(device: str) -> None:
            started.append(device)
            one_more.set()

        schedule._start = start_more
        time.sleep(20 * interval)  # the loop blocked for twenty intervals (a long scrape, a slow disk)
        blocked_until = time.time()
        await asyncio.wait_for(one_more.wait(), 30)
        after = list(started)
        next_due = schedule.next_due_s()["a"]
        schedule.stop()
        assert loop.is_running()
        return before, after, first_due, next_due, blocked_until

    before, after, first_due, next_due, blocked_until = asyncio.run(scenario())
    assert before == ["a"] * 3
    assert after == ["a"] * 4  # one poll for the twenty missed intervals, not twenty catch-up polls
    steps = (next_due - first_due) / interval
    assert round(steps) >= 20 and steps == pytest.approx(
        round(steps), abs=0.05
    )  # still on the device's grid (float time)
    assert next_due > blocked_until - 0.01


def test_a_long_interval_reads_every_device_at_start_up_as_well() -> None:
    async def scenario() -> list[str]:
        started: list[str] = []
        both = asyncio.Event()

        def start(device: str) -> None:
            started.append(device)
            if len(started) == 2:
                both.set()

        schedule = PollSchedule(3600.0, start)
        schedule.begin(["d37", "d70"])  # phases 0.001 and 0.006: read within 0.1 s
        # the start-up reads come within the 5 s window; the periodic ones not for an hour
        try:
            await asyncio.wait_for(both.wait(), 30)
        finally:
            schedule.stop()
        return started

    assert sorted(asyncio.run(scenario())) == ["d37", "d70"]
