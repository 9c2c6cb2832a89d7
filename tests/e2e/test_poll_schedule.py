"""Poll scheduling at a long interval, against the minimal simulated site over real UDP: every device is
read within the first seconds (so the first PUE comes quickly), and afterwards each device keeps its own
phase spread over the whole interval instead of all of them polling in the first five seconds."""

from __future__ import annotations

import asyncio
import sys
import time
import zlib
from pathlib import Path

import pytest

from agent.app.runtime import Agent
from agent.config.site import load_config
from twin.serve.site import MinimalSite

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import on_loopback, sample, scrape

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
INTERVAL_S = 30.0


def test_long_interval_reads_everything_at_start_then_spreads_polls_over_the_interval() -> None:
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    cfg = on_loopback(cfg, interval_s=INTERVAL_S, timeout_s=0.5, retries=0)

    async def scenario() -> tuple[dict[str, float], float, str]:
        site = MinimalSite(cfg, profiles)
        async with site.serving(tick_s=0.2):
            agent = Agent(cfg, profiles)
            host, port = agent.start_http()
            agent.start_scheduler()
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                await asyncio.sleep(6.5)  # the start-up reads (within 5 s) and the first site tick (5.5 s)
                text = await asyncio.to_thread(scrape, f"http://{host}:{port}/metrics")
                assert agent.poll_schedule is not None
                now = loop.time()
                due = agent.poll_schedule.next_due_s()  # each device's next periodic poll, wall-clock
                wall_started = time.time() - (now - started)
                return {d: t - wall_started for d, t in due.items()}, len(agent.state.last_success_s), text
            finally:
                await agent.stop()

    phases, polled, text = asyncio.run(scenario())
    assert polled == len(cfg.devices)  # every device read once already
    assert sample(text, "pue_site_realtime_pue") is not None  # so the first PUE is there within seconds
    assert set(phases) == {d.name for d in cfg.devices}
    for name, offset_s in phases.items():
        # the device's own phase: 5 s + hash share of the interval (the clock moved a little meanwhile)
        expected = 5.0 + (zlib.crc32(name.encode()) % 1000) / 1000 * INTERVAL_S
        assert offset_s == pytest.approx(expected, abs=0.5), (name, offset_s, expected)
    assert max(phases.values()) - min(phases.values()) > 5.0  # spread beyond the first five seconds
