"""Exploration end to end: the agent polls the twin over SNMP, offers an exploration step in approve mode, and the
twin's setpoints change only after an operator approves it (through the same guarded write as a recommendation)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

import tests.e2e.test_guarded_writes as gw
from agent.app.runtime import Agent
from agent.config.site import RecommenderConfig, load_config
from twin.live import TwinLiveSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import on_loopback, sample, scrape  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = TESTS.parent


def test_an_exploration_step_is_offered_and_written_only_after_approval(tmp_path: Path) -> None:
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    rcfg = RecommenderConfig(
        mode="approve",
        action_log=tmp_path / "actions.jsonl",
        pending_expiry_s=600.0,  # slow hands on a busy machine
        exploration={"enabled": True, "safe_hours": list(range(24)), "settle_h": 0.0, "hold_h": 0.25},
    )
    cfg = on_loopback(
        cfg,
        interval_s=gw.INTERVAL_S,
        timeout_s=gw.TOLERANT_TIMEOUT_S,
        retries=1,
        recommender=rcfg,
        stale_after_intervals=10.0,
    )

    async def main():  # type: ignore[no-untyped-def]
        site = TwinLiveSite(cfg, profiles, speed=60.0)
        async with site.serving(tick_s=0.2):
            agent = Agent(cfg, profiles)  # no model at all: a site that never varied has none worth the name
            host, port = agent.start_http()
            agent.start_scheduler()
            url = f"http://{host}:{port}"
            try:
                home = site.truth.controls
                await gw._until(lambda: agent.controller.pending is not None, 120)
                offered = agent.controller.pending.recommendation
                assert offered.reason.startswith("exploration exploring")
                await gw._ticks(agent, 2, 120.0)
                assert site.truth.controls == home  # nothing written before approval
                assert list(agent.controller.actuator.actions) == []
                rec = json.loads(await asyncio.to_thread(scrape, f"{url}/api/v1/recommendation", 30.0))
                assert rec["exploration"]["mode"] == "approve" and rec["exploration"]["lattice_points"] > 10
                text = await asyncio.to_thread(scrape, f"{url}/metrics", 30.0)
                assert sample(text, "pue_exploration_steps_total") == 0.0
                page = await asyncio.to_thread(scrape, f"{url}/", 30.0)
                assert "id='exploration'" in page
                approved, body = await gw._approve_when_offered(agent, url, "alice")
                target = approved["setpoints"]

                def written() -> bool:
                    c = site.truth.controls
                    return (c.supply_air_setpoint_c, c.chw_supply_setpoint_c, c.economizer_enabled) == (
                        target["supply_air_setpoint_c"],
                        target["chw_supply_setpoint_c"],
                        target["economizer_enabled"],
                    )

                await gw._until(written, 120)
                await agent.controller.wait_idle()
                return home, body
            finally:
                await agent.stop()

    _home, body = asyncio.run(main())
    logged = [json.loads(line) for line in (tmp_path / "actions.jsonl").read_text().splitlines()]
    assert logged and all(a["approved_by"] == "alice" and a["reason"].startswith("exploration") for a in logged)
    assert len({a["quantity"] for a in logged}) == 1  # one setpoint at a time
    assert body["actions"]
