"""REF, ERE/ERF, WUE and per-zone pPUE: topology -> writer -> store (schema v2) -> metrics, reports, files."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from agent.config.emission import load_emission_factor as emission_factor
from agent.config.site import DeviceConfig, SiteConfig, Topology, load_config
from agent.devices.readings import DeviceSnapshot, Reading
from agent.errors import ConfigError, ImportFormatError
from agent.history.database import MIGRATIONS, SCHEMA_VERSION
from agent.history.export import history_rows, write_csv
from agent.history.importer import import_history
from agent.history.records import SiteInterval
from agent.history.store import SqliteHistoryStore
from agent.history.writer import HistoryWriter
from agent.reports.report import period_report
from agent.reports.text import summary_lines
from agent.site.poller import AgentState, DeviceEnergy
from models.metrics import IntervalSeries, period_metrics
from tests.history.conftest import ROOT

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY = 86400.0
HOUR = 3600.0

#: (device, energy quantity, rate [W or m3/s]): 150 kW facility of which 30 kW PV, 100 kW IT behind
#: UPSes taking 105 kW, 20 kW of heat reused, 0.5 L/s of water, two zones
RATES: tuple[tuple[str, str, float], ...] = (
    ("meter-main", "energy_j", 120_000.0),
    ("meter-pv", "energy_j", 30_000.0),
    ("ups-a", "energy_j", 60_000.0),
    ("ups-b", "energy_j", 40_000.0),
    ("ups-a", "input_energy_j", 63_000.0),
    ("ups-b", "input_energy_j", 42_000.0),
    ("plant", "reused_heat_energy_j", 20_000.0),
    ("plant", "water_volume_m3", 0.5e-3),
    ("crah-1", "energy_j", 9_000.0),
    ("crah-2", "energy_j", 8_000.0),
)


def _site_cfg(base: SiteConfig) -> SiteConfig:
    template = base.devices[0]
    devices = tuple(
        DeviceConfig(**{**template.model_dump(), "name": name, "port": 16400 + i})
        for i, name in enumerate(("meter-main", "meter-pv", "ups-a", "ups-b", "plant", "crah-1", "crah-2"))
    )
    topology = Topology.model_validate(
        {
            "it_category": 1,
            "facility": [{"device": "meter-main"}, {"device": "meter-pv"}],
            "it": [{"device": "ups-a"}, {"device": "ups-b"}],
            "distribution": [
                {"device": d, "power_quantity": "input_active_power_w", "energy_quantity": "input_energy_j"}
                for d in ("ups-a", "ups-b")
            ],
            "renewable": [{"device": "meter-pv"}],
            "reuse": [{"device": "plant"}],
            "water": [{"device": "plant"}],
            "zones": {
                "hall-1": {"it": [{"device": "ups-a"}], "overhead": [{"device": "crah-1"}]},
                "hall-2": {"it": [{"device": "ups-b"}], "overhead": [{"device": "crah-2"}]},
            },
        }
    )
    return base.model_copy(update={"devices": devices, "topology": topology, "poll_interval_s": 60.0})


@pytest.fixture(scope="module")
def site_cfg() -> SiteConfig:
    cfg, _ = load_config(ROOT / "configs" / "demo-site.yaml")
    return _site_cfg(cfg)


def _drive(
    cfg: SiteConfig, store: SqliteHistoryStore, start_s: float, ticks: int, down: dict[str, range] | None = None
) -> None:
    """Polls every minute: each device's energies grow at RATES; ``down`` devices miss those ticks."""
    writer = HistoryWriter(store, cfg)
    state = AgentState()
    totals: dict[tuple[str, str], float] = {}
    for k in range(ticks + 1):
        t = start_s + 60.0 * k
        for device in {d for d, _q, _r in RATES}:
            if k in (down or {}).get(device, ()):
                snap = DeviceSnapshot(device, t, 0.01, False, error="timeout", error_kind="timeout")
                state.snapshots[device] = snap
                writer.on_snapshot(snap, state)
                continue
            readings = []
            for dev, quantity, rate in RATES:
                if dev == device:
                    key = (dev, quantity)
                    totals[key] = totals.get(key, 1_000.0) + (rate * 60.0 if k else 0.0)
                    state.energy[key] = DeviceEnergy(totals[key], "counter", t)
                    readings.append(Reading(quantity, totals[key]))
            snap = DeviceSnapshot(device, t, 0.01, True, tuple(readings))
            state.snapshots[device] = snap
            state.last_success_s[device] = t
            writer.on_snapshot(snap, state)
        site: Any = SimpleNamespace(timestamp_s=t)
        writer.on_site(site, state)
    writer.flush()


def test_ref_ere_erf_wue_and_zone_ppue_known_answer(site_cfg: SiteConfig, tmp_path: Path) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    _drive(site_cfg, store, T0, 24 * 60)
    report = period_report(store, T0, T0 + DAY, emission_factor("cn-mee-2023-national"), min_coverage=0.9)
    t = report.total
    assert t.pue == pytest.approx(1.5)
    assert t.ppue_distribution == pytest.approx(105 / 100)
    assert t.ref == pytest.approx(30 / 150)
    assert t.erf == pytest.approx(20 / 150)
    assert t.ere == pytest.approx((150 - 20) / 100)
    # 0.5 L/s over the covered time, per kWh of IT over the same time
    assert t.wue_l_per_kwh == pytest.approx(0.5 * 3600 / 100)
    assert t.renewable_kwh == pytest.approx(30 * 24 * t.coverage_ratio)
    zones = {z.zone: z for z in t.zones}
    assert zones["hall-1"].ppue == pytest.approx(69 / 60)
    assert zones["hall-2"].ppue == pytest.approx(48 / 40)
    text = "\n".join(summary_lines(report))
    assert "REF: 0.200" in text and "ERE: 1.300   ERF: 0.133" in text and "WUE: 18.00 L/kWh_IT" in text
    assert "pPUE power distribution: 1.050 (energy into distribution 2,520 kWh, losses 120 kWh)" in text
    assert "pPUE zone hall-1: 1.150" in text and "pPUE zone hall-2: 1.200" in text
    store.close()


def test_a_meter_with_gaps_withholds_its_ratio_not_the_pue(site_cfg: SiteConfig, tmp_path: Path) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    # the water meter misses 10 polls, crah-2 misses 120 (a tenth of the day)
    _drive(site_cfg, store, T0, 24 * 60, down={"plant": range(300, 310), "crah-2": range(600, 744)})
    report = period_report(store, T0, T0 + DAY, emission_factor("cn-mee-2023-national"), min_coverage=0.95)
    t = report.total
    assert t.pue == pytest.approx(1.5) and t.ref == pytest.approx(0.2)
    assert t.wue_l_per_kwh is None and t.ere is None and t.erf is None
    assert any(n.startswith("water withheld: its meter covered 99.") for n in t.notes)
    zones = {z.zone: z for z in t.zones}
    assert zones["hall-1"].ppue == pytest.approx(69 / 60)
    assert zones["hall-2"].ppue is None and "below the 95% required" in (zones["hall-2"].reason or "")
    text = "\n".join(summary_lines(report))
    assert "WUE" not in text.split("water withheld")[0] and "pPUE zone hall-2: withheld" in text
    store.close()


def test_metrics_without_optional_meters_say_nothing_of_them() -> None:
    n = 24
    series = IntervalSeries.from_arrays(
        T0 + HOUR * np.arange(n), np.full(n, HOUR), np.full(n, HOUR), np.full(n, 1.3 * 3.6e8), np.full(n, 3.6e8)
    )
    m = period_metrics(series, T0, T0 + DAY)
    assert m.pue == pytest.approx(1.3)
    assert (m.ref, m.ere, m.erf, m.wue_l_per_kwh, m.zones, m.notes) == (None, None, None, None, (), ())


def test_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute(
        "INSERT INTO site_interval (start_s, duration_s, covered_s, facility_j, it_j, cooling_covered_s, "
        "cooling_j, method, it_category, source) VALUES (?, 60, 60, 9e6, 6e6, 0, 0, 'counter', 1, 'agent')",
        (T0,),
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    store = SqliteHistoryStore(path)
    assert SCHEMA_VERSION == 4
    assert int(sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]) == 4
    old = store.site_intervals(T0, T0 + 60)
    assert len(old) == 1 and old[0].facility_j == 9e6 and old[0].terms == {}
    store.record_site_interval(
        SiteInterval(T0 + 60, 60, 60, 9e6, 6e6, 0, 0, "counter", 1, terms={"water_m3": (60.0, 0.03)})
    )
    assert store.site_intervals(T0 + 60, T0 + 120)[0].terms == {"water_m3": (60.0, 0.03)}
    assert store.site_rollups(3600, T0, T0 + HOUR)[0].terms == {"water_m3": (60.0, 0.03)}
    store.close()


def test_terms_purge_with_raw_intervals_and_survive_in_rollups(site_cfg: SiteConfig, tmp_path: Path) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    _drive(site_cfg, store, T0, 120)
    assert store.count("site_term_interval") == 120 * 8  # 4 ratio terms + 2 x 2 zone terms per interval
    store.purge_raw(T0 + HOUR)
    assert store.count("site_term_interval") == 60 * 8
    hour = store.site_rollups(3600, T0, T0 + HOUR)[0]
    assert hour.terms["water_m3"] == pytest.approx((3600.0, 1.8))
    store.close()


def test_export_import_round_trip_keeps_the_meters(site_cfg: SiteConfig, tmp_path: Path) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    _drive(site_cfg, store, T0, 6 * 60, down={"plant": range(100, 105)})
    first = tmp_path / "first.csv"
    with first.open("w", newline="") as out:
        write_csv(history_rows(store, T0, T0 + DAY, 3600), out)
    store.close()
    header, *rows = [line.split(",") for line in first.read_text().splitlines()]
    col = {name: i for i, name in enumerate(header)}
    assert rows[0][col["water_volume_m3"]] == "1.800000" and rows[0][col["water_coverage"]] == "1.000000"
    assert rows[1][col["water_coverage"]] < rows[1][col["coverage"]] == "1.000000"
    again = SqliteHistoryStore(tmp_path / "again.sqlite")
    import_history(again, first)
    second = tmp_path / "second.csv"
    with second.open("w", newline="") as out:
        write_csv(history_rows(again, T0, T0 + DAY, 3600), out)
    assert second.read_bytes() == first.read_bytes()
    imported = period_report(again, T0, T0 + 6 * HOUR, emission_factor("cn-mee-2023-national")).total
    # the plant's meters had a gap: WUE and ERE withheld, REF from the complete PV meter
    assert imported.ref == pytest.approx(0.2) and imported.wue_l_per_kwh is None and imported.ere is None
    again.close()


def test_import_checks_the_meter_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        textwrap.dedent("""\
        timestamp,interval_s,facility_power_w,it_power_w,coverage,water_volume_m3,water_coverage,renewable_coverage
        2026-01-01T00:00:00Z,3600,150000,100000,0.5,1.8,0.75,
        2026-01-01T01:00:00Z,3600,150000,100000,1,-1,,0.5
        """)
    )
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    with pytest.raises(ImportFormatError) as err:
        import_history(store, bad)
    text = str(err.value)
    assert "bad.csv:2:7: water_coverage: 0.75 is above coverage 0.5" in text
    assert "bad.csv:3:6: water_volume_m3: -1 is outside" in text
    assert "bad.csv:3: renewable_energy_kwh: value is missing (renewable_coverage is above 0)" in text
    assert store.count("site_interval") == 0
    store.close()


def test_zone_and_meter_terms_are_checked_at_config_load(tmp_path: Path) -> None:
    base = (ROOT / "configs" / "demo-site.yaml").read_text()
    path = tmp_path / "site.yaml"
    path.write_text(
        base
        + "\n".join(
            [
                "  renewable:",
                "    - {device: meter-pv}",
                "  zones:",
                "    hall-1:",
                "      it: [{device: pdu-r01}]",
                "      overhead: [{device: crah-9}]",
                "",
            ]
        )
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "topology.renewable[0].device: no device named 'meter-pv'" in text
    assert "topology.zones.hall-1.overhead[0].device: no device named 'crah-9'" in text
