"""A simulated device stops answering: up -> 0 within two intervals, PUE invalid with the reason,
the other devices keep their schedule; it comes back and PUE with it. Real UDP, in one process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from agent.app.runtime import Agent
from agent.config.site import load_config
from twin.serve.site import MinimalSite

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port, on_loopback, sample, scrape

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
INTERVAL_S = 1.0


async def _scrape(url: str) -> str:
    return await asyncio.to_thread(scrape, url)


async def _until(url: str, predicate, timeout_s: float) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < timeout_s:
        text = await _scrape(url)
        if predicate(text):
            return text, loop.time() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout_s} s; last scrape:\n{text[-2000:]}")


def test_stopping_one_device_invalidates_pue_and_restarting_restores_it() -> None:
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    cfg = on_loopback(cfg, interval_s=INTERVAL_S, timeout_s=0.3, retries=0)

    async def scenario() -> None:
        site = MinimalSite(cfg, profiles)
        async with site.serving(tick_s=0.2):
            agent = Agent(cfg, profiles)
            host, port = agent.start_http()
            url = f"http://{host}:{port}/metrics"
            agent.start_scheduler()
            try:
                await _until(url, lambda t: sample(t, "pue_site_realtime_pue") is not None, 15)
                before = agent.state.last_success_s["ups-a"]

                site.stop_device("ups-b")
                text, waited = await _until(url, lambda t: sample(t, "pue_device_up", device="ups-b") == 0.0, 10)
                assert waited <= 2 * INTERVAL_S + 0.5, f"up went to 0 after {waited:.2f} s"
                text, _ = await _until(url, lambda t: sample(t, "pue_site_realtime_pue") is None, 5)
                assert sample(text, "pue_site_pue_valid", kind="realtime") == 0.0
                assert (
                    sample(text, "pue_site_pue_invalid_info", kind="realtime", reason="missing data from: ups-b") == 1.0
                )
                assert sample(text, "pue_site_coverage_ratio", boundary="it") == 0.5
                # a dead device's readings disappear instead of turning into zeros
                assert sample(text, "pue_device_active_power_watts", device="ups-b") is None
                assert sample(text, "pue_site_power_watts", boundary="it") is None
                # healthy devices keep their schedule
                await asyncio.sleep(3 * INTERVAL_S)
                after = agent.state.last_success_s["ups-a"]
                assert after - before >= 3 * INTERVAL_S - 0.5
                assert sample(await _scrape(url), "pue_device_up", device="ups-a") == 1.0

                site.start_device("ups-b")
                text, _ = await _until(url, lambda t: sample(t, "pue_site_realtime_pue") is not None, 10)
                truth = site.truth.pue
                measured = sample(text, "pue_site_realtime_pue")
                assert measured is not None and abs(measured - truth) / truth < 0.005
                assert sample(text, "pue_device_poll_errors_total", device="ups-b", kind="timeout") >= 1
            finally:
                await agent.stop()

    asyncio.run(scenario())


def test_stop_with_polls_in_flight_is_clean_and_prompt(caplog: pytest.LogCaptureFixture) -> None:
    """SIGTERM arrives while devices are mid-poll (here: a device that never answers): the agent stops
    within the SNMP timeout, and nothing is logged as an error (a CancelledError traceback from the
    scheduler once broke a CI run)."""
    import logging
    import socket
    import time

    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never replies
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    devices = tuple(d.model_copy(update={"port": port, "timeout_s": 1.5, "retries": 0}) for d in cfg.devices)
    cfg = cfg.model_copy(
        update={
            "devices": devices,
            "poll_interval_s": 5.0,
            "listen": cfg.listen.model_copy(update={"port": free_port()}),
        }
    )

    async def scenario() -> float:
        agent = Agent(cfg, profiles)
        agent.start_scheduler()
        # the staggered first polls start within min(interval, 5 s): a request arriving is a poll in flight
        silent.settimeout(8)
        await asyncio.to_thread(silent.recv, 65535)
        started = time.monotonic()
        await agent.stop()
        return time.monotonic() - started

    try:
        with caplog.at_level(logging.DEBUG):
            took_s = asyncio.run(scenario())
    finally:
        silent.close()
    assert took_s < 1.5 + 1.0 + 0.5, f"stop took {took_s:.2f} s"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert not any(
        "Traceback" in (r.exc_text or "") or r.exc_info for r in caplog.records if r.levelno >= logging.WARNING
    )
