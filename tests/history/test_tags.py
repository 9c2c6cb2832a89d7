"""Sub-system, unit and energy-type tags: topology -> history writer -> stored terms -> export, with coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.site import SiteConfig, TopologyTerm
from agent.history.export import history_table
from agent.history.store import SqliteHistoryStore
from tests.history.conftest import make_site

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _tagged(cfg: SiteConfig) -> SiteConfig:
    """meter-main (facility, grid) tagged hall-1; ups-a tagged as sub-system "it" of hall-1, ups-b of hall-2;
    pdu-r01 a submeter of lighting (a meter in no boundary)."""
    topo = cfg.topology.model_copy(
        update={
            "facility": (TopologyTerm(device="meter-main", energy_type="grid_electricity", unit="hall-1"),),
            "it": (
                TopologyTerm(device="ups-a", subsystem="it", unit="hall-1"),
                TopologyTerm(device="ups-b", subsystem="it", unit="hall-2"),
            ),
            "submeters": (TopologyTerm(device="pdu-r01", subsystem="lighting"),),
        }
    )
    from agent.config.site import load_config

    full, _ = load_config(Path(__file__).resolve().parents[2] / "configs" / "demo-site.yaml")
    devices = tuple(d for d in full.devices if d.name in ("meter-main", "ups-a", "ups-b", "pdu-r01"))
    return cfg.model_copy(update={"topology": topo, "devices": devices})


def test_tagged_energy_is_stored_with_its_coverage_and_exported(cfg: SiteConfig, store: SqliteHistoryStore) -> None:
    tagged = _tagged(cfg)
    power = {"meter-main": 150_000.0, "ups-a": 60_000.0, "ups-b": 40_000.0, "pdu-r01": 5_000.0}
    site = make_site(tagged, store, power)
    for k in range(61):  # an hour of 60 s ticks; the lighting meter is down for the last 15 minutes
        down = frozenset({"pdu-r01"}) if k > 45 else frozenset()
        site.step(T0 + 60 * k, 60.0, down=down)
    site.writer.flush()
    (hour,) = store.site_rollups(3600, T0, T0 + 3600)
    assert hour.covered_s == pytest.approx(3600)
    assert hour.terms["energy_type:grid_electricity:energy_j"] == pytest.approx((3600, 150_000.0 * 3600))
    assert hour.terms["unit:hall-1:energy_j"] == pytest.approx((3600, 210_000.0 * 3600))  # meter-main + ups-a
    assert hour.terms["unit:hall-2:energy_j"] == pytest.approx((3600, 40_000.0 * 3600))
    assert hour.terms["subsystem:it:energy_j"] == pytest.approx((3600, 100_000.0 * 3600))
    # the intervals touching the lighting meter's outage are not covered: neither energy nor time counted
    lighting_s, lighting_j = hour.terms["subsystem:lighting:energy_j"]
    assert lighting_s == pytest.approx(45 * 60) and lighting_j == pytest.approx(5_000.0 * 45 * 60)
    columns, rows = history_table(store, T0, T0 + 3600, 3600)
    cells = dict(zip(columns, rows[0], strict=True))
    assert cells["subsystem_lighting_energy_kwh"] == f"{5.0 * 45 / 60:.6f}"
    assert cells["subsystem_lighting_coverage"] == "0.750000"
    assert cells["unit_hall-1_energy_kwh"] == f"{210.0:.6f}" and cells["unit_hall-1_coverage"] == "1.000000"
    assert columns.index("subsystem_it_energy_kwh") < columns.index("unit_hall-1_energy_kwh")
