"""REF, ERE/ERF and WUE end to end: the twin's PV, heat and water meters over real SNMP, the agent's
history in a real SQLite file, the metrics from its rollups, compared with the twin's own truth."""

from __future__ import annotations

import asyncio
import math
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.app.runtime import Agent
from agent.config.site import HistoryConfig, load_config
from agent.history.store import SqliteHistoryStore
from agent.history.writer import HistoryWriter
from models.metrics import IntervalSeries, period_metrics
from twin.live import TwinLiveSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
from netutil import on_loopback  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = TESTS.parent
# 2 s polls with a tolerant timeout over 60 s: the twin (22 responders) and the agent share one process, and
# on a busy 2-core machine a 1 s interval with a 0.5 s timeout left intervals uncovered (issue 12)
RUN_S = 60.0
INTERVAL_S = 2.0


def test_ref_ere_wue_from_the_twins_meters_match_its_truth(tmp_path: Path) -> None:
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    # energies from integrated power, flow and heat rate: over a 30 s run the registers' resolution
    # (0.1 kWh on the Janitza meters, 1 L on the water meter) would dominate; the counter path of the
    # same meters is tested in tests/simulated_site/test_live.py and tests/history
    topo = cfg.topology
    integrated = {
        name: tuple(
            t.model_copy(update={"energy_quantity": f"integrated_{t.energy_quantity}"}) for t in getattr(topo, name)
        )
        for name in ("facility", "it", "renewable", "reuse", "water")
    }
    cfg = cfg.model_copy(update={"topology": topo.model_copy(update=integrated)})
    db = tmp_path / "history.sqlite"
    cfg = on_loopback(
        cfg,
        interval_s=INTERVAL_S,
        timeout_s=1.8,
        retries=1,
        stale_after_intervals=10.0,
        history=HistoryConfig(path=db),
        recommender=None,
    )  # the history writer is wired as `pue-agent run` wires it
    samples: list[tuple[float, float, float, float, float]] = []

    async def main() -> None:
        # a January noon in Guiyang (04:00 UTC): the sun is up and the offices take heat
        site = TwinLiveSite(cfg, profiles, speed=60.0, start=datetime(2026, 1, 15, 4, 0, tzinfo=UTC))
        async with site.serving(tick_s=0.2):
            writer = HistoryWriter(SqliteHistoryStore(db), cfg)
            agent = Agent(cfg, profiles, observers=[writer])
            agent.start_scheduler()
            try:
                loop = asyncio.get_running_loop()
                end = loop.time() + RUN_S
                while loop.time() < end:
                    t = site.truth
                    samples.append((t.facility_w, t.ups_output_w, t.pv_w, t.reused_heat_w, t.water_flow_m3_per_s))
                    await asyncio.sleep(0.25)
            finally:
                await agent.stop()
                writer.close()

    asyncio.run(main())
    store = SqliteHistoryStore(db, readonly=True)
    intervals = store.site_intervals(0, 4e9)
    store.close()
    assert len(intervals) >= 20, "too little history"
    intervals = intervals[5:]  # past the start-up reads
    names = sorted({n for iv in intervals for n in iv.terms})
    series = IntervalSeries.from_arrays(
        [iv.start_s for iv in intervals],
        [iv.duration_s for iv in intervals],
        [iv.covered_s for iv in intervals],
        [iv.facility_j for iv in intervals],
        [iv.it_j for iv in intervals],
        terms={
            n: (
                [iv.terms.get(n, (0.0, 0.0))[0] for iv in intervals],
                [iv.terms.get(n, (0.0, 0.0))[1] for iv in intervals],
            )
            for n in names
        },
    )
    start, end = intervals[0].start_s, intervals[-1].start_s + intervals[-1].duration_s
    # the metrics over the covered intervals are compared with the truth below; a poll that timed out on a busy
    # machine is an honest gap, not a failure (one CI run with the other core loaded had two: 87.9 % covered)
    m = period_metrics(series, start, end, min_coverage=0.7)
    assert m.pue is not None, m.reason

    def mean(i: int) -> float:
        return math.fsum(s[i] for s in samples) / len(samples)

    facility, it, pv, reused, water = (mean(i) for i in range(5))
    assert pv > 10e3 and reused > 50e3 and water > 0
    assert m.pue == pytest.approx(facility / it, rel=0.01)
    # UPS inputs over UPS outputs: 2N double-conversion UPSes at ~35 % load, about 94 % efficient
    assert m.ppue_distribution is not None and 1.05 < m.ppue_distribution < 1.08
    assert m.ref == pytest.approx(pv / facility, rel=0.02)
    assert m.erf == pytest.approx(reused / facility, rel=0.02)
    assert m.ere == pytest.approx((facility - reused) / it, rel=0.01)
    # L per kWh of IT: (m3/s x 1000) / (kW) x 1 h
    assert m.wue_l_per_kwh == pytest.approx(water * 1000.0 * 3600.0 / (it / 1000.0), rel=0.02)
