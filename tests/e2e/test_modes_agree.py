"""advise, approve and auto on the same twin state recommend the same thing (issue 18).

The demo's advise and approve runs always held back ("no setpoints within rate limits and data support
meet the inlet limit of 27 C", hottest inlet 23 C) while auto acted on its first tick. The recommender
counted its own unapplied recommendation as applied: the economizer dwell clock started and the rate-limit
window took the target, so in advise and approve (where nothing is written) the next tick had to keep the
economizer off, and the demo's model, trained with the economizer always on, had no setpoint there at
all. Here each mode runs the real agent (real Recommender and controller) against the twin over SNMP,
frozen at the demo's start; the plant model is analytic, and like the demo's it has seen the economizer
on only. Every tick of every mode must recommend the same setpoints; approve keeps one pending id until
the CLI approves it; approve and auto then write exactly those setpoints to the twin.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.app.cli import main
from agent.app.runtime import Agent
from agent.config.site import RecommenderConfig, load_config
from agent.control.engine import Recommendation, Setpoints
from agent.control.recommender_setup import recommender_for
from twin.demo import DEMO_START
from twin.live import TwinLiveSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import on_loopback  # noqa: E402
from plantfakes import EconomizerOnlyPlant  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = TESTS.parent
INTERVAL_S = 2.0  # twin and agent share one process: 1 s left polls timing out on a busy machine
TICKS = 3  # site ticks with good data compared per mode


class _Ticks:
    """An observer after the controller: what it recommended at each site tick."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.seen: list[Recommendation] = []
        self.pending_ids: list[int | None] = []

    def on_snapshot(self, snapshot: object, state: object) -> None:
        return None

    def on_site(self, site: object, state: object) -> None:
        controller = self.agent.controller
        assert controller is not None
        latest = controller.latest
        # a busy machine's missed poll makes a tick's data stale: that tick rightly holds back, and is skipped
        if isinstance(latest, Recommendation) and not (latest.held_back_reason or "").startswith("stale"):
            self.seen.append(latest)
            self.pending_ids.append(controller.pending.id if controller.pending is not None else None)


async def _until(predicate: Any, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        assert loop.time() - start < timeout_s, "condition not met"
        await asyncio.sleep(0.05)


def _run(tmp_path: Path, mode: str) -> tuple[list[Recommendation], list[int | None], Setpoints]:
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    rcfg = RecommenderConfig(mode=mode, action_log=tmp_path / f"{mode}.jsonl", pending_expiry_s=600.0)
    cfg = on_loopback(
        cfg, interval_s=INTERVAL_S, timeout_s=1.8, retries=1, recommender=rcfg, stale_after_intervals=10.0
    )

    async def main_() -> tuple[list[Recommendation], list[int | None], Setpoints]:
        # speed ~0: the simulated clock stands still at the demo's start, so every mode sees the same state
        site = TwinLiveSite(cfg, profiles, speed=1e-9, start=DEMO_START)
        async with site.serving(tick_s=0.2):
            assert cfg.recommender is not None
            agent = Agent(cfg, profiles, recommender=recommender_for(EconomizerOnlyPlant(), cfg.recommender))
            ticks = _Ticks(agent)
            agent.observers.append(ticks)
            host, port = agent.start_http()
            url = f"http://{host}:{port}"
            agent.start_scheduler()
            try:
                await _until(lambda: len(ticks.seen) >= (1 if mode == "auto" else TICKS), 120)
                unwritten = len(ticks.seen) if mode != "auto" else 1  # ticks before anything was written
                if mode == "approve":
                    assert site.truth.controls.economizer_enabled is False  # nothing written before approval
                    rec_id = ticks.pending_ids[-1]
                    assert rec_id is not None
                    code = await asyncio.to_thread(main, ["approve", str(rec_id), "--url", url, "--as", "tester"])
                    assert code == 0
                if mode != "advise":
                    target = ticks.seen[0].setpoints
                    await _until(lambda: site.truth.controls.economizer_enabled == target.economizer_enabled, 60)
                    await _until(lambda: site.truth.controls.chw_supply_setpoint_c == target.chw_supply_setpoint_c, 60)
                    await _until(lambda: site.truth.controls.supply_air_setpoint_c == target.supply_air_setpoint_c, 60)
                else:
                    await asyncio.sleep(INTERVAL_S)
                c = site.truth.controls
                return (
                    ticks.seen[:unwritten],
                    ticks.pending_ids[:unwritten],
                    Setpoints(c.supply_air_setpoint_c, c.chw_supply_setpoint_c, c.economizer_enabled),
                )
            finally:
                await agent.stop()

    return asyncio.run(main_())


def test_advise_approve_and_auto_recommend_the_same_from_the_same_state(tmp_path: Path) -> None:
    start = Setpoints(18.0, 7.0, False)  # the twin's legacy setpoints
    results = {mode: _run(tmp_path, mode) for mode in ("advise", "approve", "auto")}
    first = results["auto"][0][0]
    assert first.held_back_reason is None and first.changed and first.current == start, first
    assert first.setpoints.economizer_enabled  # the economizer is the first move, as in the demo
    for mode, (seen, pending_ids, plant) in results.items():
        # before anything was written, every tick of every mode recommends the same (auto writes after its first)
        for rec in seen:
            assert rec.current == start, (mode, rec)
            assert rec.held_back_reason is None and rec.setpoints == first.setpoints, (mode, rec)
            assert rec.predicted_savings_w == pytest.approx(first.predicted_savings_w, rel=0.02), (mode, rec)
        if mode == "approve":
            assert len(seen) >= TICKS and len(set(pending_ids)) == 1 and pending_ids[0] is not None, pending_ids
        assert plant == (start if mode == "advise" else first.setpoints), (mode, plant)
