"""The site tick's O(devices) work runs off the event loop, over a copy of the state taken at the tick (issue 17).

At 10,000 devices a tick (the accountant, the history writer's interval) took 0.1-0.6 s in the loop, and every
poll in flight waited for it: that was the p99 of the poll latency. These tests slow the tick down on purpose and
check that the loop keeps running, that the off-loop work sees the state as it was at the tick (a poll finishing
meanwhile is not half in it), and that the other observers still run in the loop with the live state.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from agent.app.runtime import Agent
from agent.config.site import load_config
from agent.devices.readings import DeviceSnapshot
from agent.devices.snmp.seam import FakeSnmpClient
from agent.site.poller import AgentState, SiteState

ROOT = Path(__file__).resolve().parents[2]

#: how long the slowed tick takes [s]; the loop's longest pause must stay well below it
SLOW_TICK_S = 1.5


class _Recorder:
    def __init__(self, off_loop: bool) -> None:
        self.site_off_loop = off_loop
        self.calls: list[tuple[str, AgentState, SiteState]] = []

    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        return None

    def on_site(self, site: SiteState, state: AgentState) -> None:
        self.calls.append((threading.current_thread().name, state, site))


def _agent() -> Agent:
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    client = FakeSnmpClient({"1.3.6.1.2.1.33.1.4.4.1.4.1": ("integer", 30_000)})
    return Agent(cfg, profiles, client=client)


def test_a_slow_tick_does_not_stop_the_loop_and_sees_the_state_of_its_start() -> None:
    agent = _agent()
    off, on = _Recorder(True), _Recorder(False)
    agent.observers += [off, on]
    device = "ups-a"  # one the fake client answers
    real_tick = agent.accountant.tick
    polled_meanwhile = threading.Event()
    tick_threads: list[str] = []
    slow = False

    def slow_tick(view: AgentState | None = None, now: float | None = None) -> SiteState:
        tick_threads.append(threading.current_thread().name)
        if slow:
            assert polled_meanwhile.wait(60)  # the loop polls while this tick is under way
            time.sleep(SLOW_TICK_S)
        return real_tick(view, now)

    agent.accountant.tick = slow_tick  # type: ignore[method-assign]

    async def scenario() -> tuple[float, DeviceSnapshot, DeviceSnapshot | None]:
        nonlocal slow
        await agent.poll_all_once()  # every device read once, and a first tick
        slow = True
        before = agent.state.snapshots[device]
        assert before.ok
        polled_meanwhile.clear()
        off.calls.clear()
        on.calls.clear()
        longest = 0.0
        stop = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal longest
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                longest = max(longest, now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        tick = asyncio.create_task(agent.site_tick())
        await asyncio.sleep(0.05)
        after = await agent.poll(device)  # a poll that finishes while the tick runs
        polled_meanwhile.set()
        await tick
        stop.set()
        await beat
        return longest, before, after

    try:
        longest, before, after = asyncio.run(asyncio.wait_for(scenario(), 120))
    finally:
        agent._tick_pool.shutdown(wait=True)
    assert tick_threads and all(name.startswith("site-tick") for name in tick_threads)
    # the loop kept going: its longest pause is far below the tick's length (it was the whole tick before)
    assert longest < SLOW_TICK_S / 2, f"the event loop paused {longest:.2f} s during a {SLOW_TICK_S} s tick"
    assert after is not None and after is not before
    [(off_thread, view, off_site)] = off.calls
    [(on_thread, live, on_site)] = on.calls
    assert off_thread.startswith("site-tick") and on_thread == threading.main_thread().name
    # off the loop: a copy taken when the tick started, which the poll meanwhile did not touch
    assert view is not agent.state and view.snapshots[device] is before
    # in the loop: the live state, with that poll in it, and the same site state
    assert live is agent.state and live.snapshots[device] is after
    assert off_site is on_site is agent.state.site


def test_frozen_is_a_copy_of_every_table() -> None:
    agent = _agent()
    asyncio.run(agent.poll_all_once())
    agent._tick_pool.shutdown(wait=True)
    state = agent.state
    view = state.frozen()
    for name in ("snapshots", "last_success_s", "counters", "counter_events", "energy", "poll_errors", "polls_skipped"):
        live, copy = getattr(state, name), getattr(view, name)
        assert copy == live and copy is not live, name
    assert view.site is state.site
    state.snapshots.clear()
    assert view.snapshots  # the copy is not emptied with the live table
