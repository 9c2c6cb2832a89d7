"""Smoke test of bench/fleet.py on two fixtures: snmpsim over UDP, detection, reading, scoring, JSON."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fleet.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleet_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fleet_bench"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e
def test_fleet_bench_reads_and_scores_two_fixtures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fleet.json"
    assert _bench().main(["--only", "apc_ap8853", "--only", "arista_eos", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    by_name = {r["recording"]: r for r in data["results"]}
    assert by_name["apc_ap8853"]["profile"] == "apc-rpdu2"
    assert by_name["arista_eos"]["profile"] == "entity-sensor"
    assert all(r["read"] and r["error"] is None for r in by_name.values())
    assert data["summary"]["recordings"] == data["summary"]["detected"] == data["summary"]["read"] == 2
    # apc_ap8853's expectations: 1 power, 1 energy, 3 current, 1 voltage
    assert by_name["apc_ap8853"]["matched"] == {"power": 1, "power_consumed": 1, "current": 3, "voltage": 1}
    printed = capsys.readouterr().out
    assert "read 2/2" in printed and "arista_eos" in printed


def test_scoring_tolerance_and_overrides(tmp_path: Path) -> None:
    """1 % or 0.05 absolute; a value from another OID or unit never matches; an override needs a reason."""
    bench = _bench()
    assert bench.close(100.9, 100.0) and not bench.close(101.2, 100.0)
    assert bench.close(0.04, 0.0) and not bench.close(0.06, 0.0)
    result = bench.Result("r", "d", "librenms-json")
    expected = [
        bench.Expected("power", "1.2.3", 100.0, "W"),
        bench.Expected("power", "1.2.4", 50.0, "W"),
        bench.Expected("voltage", "1.2.5", 230.0, "V"),
        bench.Expected("voltage", "1.2.6", None, "V"),
    ]
    bench.score(result, expected, {"1.2.3": [("W", 100.5)], "1.2.4": [("VA", 50.0)], "1.2.9": [("V", 230.0)]})
    assert result.matched == {"power": 1} and result.total == {"power": 2, "voltage": 1}
    assert result.skipped == 1 and not result.read  # 1 of 3 < 80 %
    assert [u["why"] for u in result.unmatched] == ["same number, unit VA (LibreNMS: W)", "not read"]
    bad = tmp_path / "o.yaml"
    bad.write_text("overrides:\n  - {recording: r, oid: 1.2.3, corrected: 5}\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="reason"):
        bench.load_overrides(bad)
