"""The operator's page in a real headless browser: load it behind basic auth, click Approve, and the twin's
setpoints change (issue 18).

Debian's ``chromium`` driven by Playwright for Python (no browser download: ``make test`` installs the
Debian package; Playwright only drives it). The twin and the agent (approve mode, the real recommender over
an analytic plant model) run in this process's event loop; the browser talks to the agent over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from agent.app.runtime import Agent
from agent.config.site import RecommenderConfig, load_config
from agent.config.web import WebConfig
from agent.control.recommender_setup import recommender_for
from twin.demo import DEMO_START
from twin.live import TwinLiveSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import on_loopback  # noqa: E402
from plantfakes import EconomizerOnlyPlant  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = TESTS.parent
INTERVAL_S = 2.0
USER, PASSWORD = "alice", "approve-me"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(path).exists(), "chromium missing: `make test` installs Debian's chromium package"
    return path


async def _until(predicate: Any, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        assert loop.time() - start < timeout_s, "condition not met"
        await asyncio.sleep(0.05)


def test_approve_through_the_page_writes_the_setpoints_to_the_twin(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    chromium = _chromium()
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    rcfg = RecommenderConfig(mode="approve", action_log=tmp_path / "actions.jsonl", pending_expiry_s=600.0)
    cfg = on_loopback(
        cfg,
        interval_s=INTERVAL_S,
        timeout_s=1.8,
        retries=1,
        recommender=rcfg,
        stale_after_intervals=10.0,
        web=WebConfig(basic_auth_users={USER: hashed}),  # type: ignore[dict-item]
    )

    async def main() -> tuple[Any, str, str]:
        site = TwinLiveSite(cfg, profiles, speed=1e-9, start=DEMO_START)
        async with site.serving(tick_s=0.2):
            assert cfg.recommender is not None
            agent = Agent(cfg, profiles, recommender=recommender_for(EconomizerOnlyPlant(), cfg.recommender))
            host, port = agent.start_http()
            url = f"http://{host}:{port}/"
            agent.start_scheduler()
            controller = agent.controller
            assert controller is not None
            try:
                await _until(lambda: controller.pending is not None, 120)
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch_persistent_context(
                        str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
                        executable_path=chromium,
                        headless=True,
                        args=CHROMIUM_ARGS,
                        http_credentials={"username": USER, "password": PASSWORD},
                    )
                    try:
                        page = await browser.new_page()
                        loop = asyncio.get_running_loop()
                        start = loop.time()
                        while True:  # a busy machine's missed poll may withdraw the offer: load again
                            await page.goto(url)
                            if await page.locator("#approve").count():
                                offered = await page.inner_text("#pending")
                                body = await page.inner_text("body")
                                await page.click("#approve")  # a form post, answered 303 back to the page
                                note = await page.inner_text("#note")
                                if "approved:" in note:
                                    break
                            assert loop.time() - start < 120, "never approved through the page"
                            await asyncio.sleep(0.5)
                    finally:
                        await browser.close()
                # what the approval wrote (and read back) is what the twin now runs
                written = {(a.quantity, a.after) for a in controller.actuator.actions if a.result == "ok"}
                assert {q for q, _ in written} == {
                    "supply_air_setpoint_c",
                    "chw_supply_setpoint_c",
                    "economizer_enabled",
                }
                want = dict(written)
                await _until(
                    lambda: (
                        site.truth.controls.economizer_enabled == bool(want["economizer_enabled"])
                        and site.truth.controls.chw_supply_setpoint_c == want["chw_supply_setpoint_c"]
                        and site.truth.controls.supply_air_setpoint_c == want["supply_air_setpoint_c"]
                    ),
                    60,
                )
                return site.truth.controls, offered + "\n" + body, note
            finally:
                await agent.stop()

    controls, page_text, note = asyncio.run(main())
    assert controls.economizer_enabled and controls.chw_supply_setpoint_c > 7.0, controls  # the twin moved
    assert "waits for approval" in page_text and "predicted saving" in page_text and "confidence" in page_text
    assert "signed in as alice" in page_text and "PUE" in page_text and "up" in page_text
    assert "setpoint writes done and read back" in note
    logged = [json.loads(line) for line in (tmp_path / "actions.jsonl").read_text().splitlines()]
    assert logged and all(a["approved_by"] == USER for a in logged), logged  # the basic-auth user approved
