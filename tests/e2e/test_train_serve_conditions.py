"""What the cooling model is trained on equals what it is served (issue 12).

The agent polls the twin over real SNMP with a history writer (a real SQLite file) and the cooling
controller in advise mode. At every site tick the writer stores the interval's conditions (the rows the
model is retrained on) and the controller builds the model's live inputs. Both come from
``agent.site.conditions.site_conditions``; this test checks, tick by tick, that the stored row and the live
inputs agree field by field. Before, they had different rules (outdoor readings by role vs by quantity,
the first chiller's setpoint vs an average, remapped inlets).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.app.runtime import Agent
from agent.config.site import RecommenderConfig, load_config
from agent.control.engine import Recommendation
from agent.history import HistoryWriter, SqliteHistoryStore
from agent.site.poller import AgentState, SiteState
from twin.live import TwinLiveSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import on_loopback  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = TESTS.parent


class _Never:
    """A recommender that never proposes a change (the model is not what is tested here)."""

    def recommend(self, now_s, conditions, current, data_ok):  # type: ignore[no-untyped-def]
        return Recommendation(
            now_s, current, current, 1.0e6, 1.0e6, 1.4, 1.4, 24.0, 0.0, 0.0, "never", "test: never recommends"
        )

    def applied(self, now_s, setpoints):  # type: ignore[no-untyped-def]
        return None


class _LiveInputs:
    """Records the controller's live model inputs at every site tick (it runs after the controller)."""

    def __init__(self) -> None:
        self.agent: Agent | None = None
        self.by_tick: dict[float, dict[str, Any]] = {}

    def on_snapshot(self, snapshot: object, state: AgentState) -> None:
        return None

    def on_site(self, site: SiteState, state: AgentState) -> None:
        assert self.agent is not None and self.agent.controller is not None
        if self.agent.controller.latest_inputs:
            self.by_tick[site.timestamp_s] = dict(self.agent.controller.latest_inputs)


def test_stored_history_conditions_equal_the_live_model_inputs(tmp_path: Path) -> None:
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    cfg = on_loopback(
        cfg,
        interval_s=2.0,
        timeout_s=1.8,
        retries=1,
        stale_after_intervals=10.0,
        recommender=RecommenderConfig(mode="advise", action_log=tmp_path / "actions.jsonl"),
    )
    db = tmp_path / "history.sqlite"
    live = _LiveInputs()

    async def main() -> None:
        site = TwinLiveSite(cfg, profiles, speed=60.0)
        async with site.serving(tick_s=0.2):
            writer = HistoryWriter(SqliteHistoryStore(db), cfg)
            agent = Agent(cfg, profiles, observers=[writer], recommender=_Never())
            agent.observers.append(live)  # after the controller, which the agent appends to its observers
            live.agent = agent
            agent.start_scheduler()
            loop = asyncio.get_running_loop()
            start = loop.time()
            try:
                while len(live.by_tick) < 6 and loop.time() - start < 240:  # generous on a busy machine
                    await asyncio.sleep(0.5)
            finally:
                await agent.stop()
                await asyncio.to_thread(writer.close)

    asyncio.run(main())
    assert len(live.by_tick) >= 6, f"only {len(live.by_tick)} ticks with complete inputs in 240 s"
    store = SqliteHistoryStore(db)
    try:
        intervals = store.site_intervals(0.0, 4e9)
    finally:
        store.close()
    compared = 0
    for iv in intervals:
        inputs = live.by_tick.get(iv.start_s + iv.duration_s)
        if inputs is None:
            continue
        cond, current = inputs["conditions"], inputs["current"]
        stored = iv.conditions
        assert stored["outdoor_dry_bulb_c"] == pytest.approx(cond.outdoor_dry_bulb_c, abs=1e-9)
        assert stored["outdoor_wet_bulb_c"] == pytest.approx(cond.outdoor_wet_bulb_c, abs=1e-9)
        assert stored["supply_air_setpoint_c"] == pytest.approx(current.supply_air_setpoint_c, abs=1e-9)
        assert stored["chw_supply_setpoint_c"] == pytest.approx(current.chw_supply_setpoint_c, abs=1e-9)
        assert bool(stored["economizer_enabled"]) == current.economizer_enabled
        assert iv.max_inlet_c == pytest.approx(inputs["max_inlet_c"], abs=1e-9)
        compared += 1
    assert compared >= 4, (compared, len(intervals), sorted(live.by_tick)[:3])
