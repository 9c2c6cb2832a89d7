"""The morning dashboard's write/revert expressions on synthetic series, evaluated by promtool: a counter born at
its first write is an event, a counter that grows is an event, a quiet counter is none."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
LABELS = 'site="s",instance="a:1",job="pue-agent",device="crah-1",quantity="supply_air_setpoint_c",result="ok"'


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA / "build_dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _site(expr: str) -> str:
    return expr.replace('site=~"$site"', 'site=~"s"')


def test_write_annotations_and_counts_on_synthetic_series(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make test` installs Debian's prometheus package"
    _builder()  # puts grafana/ on the path: the shared expressions are in grafana/pue_dashboards/queries.py
    queries = importlib.import_module("pue_dashboards.queries")
    morning = json.loads((GRAFANA / "dashboards" / "morning.json").read_text())
    (writes_annotation,) = [a["expr"] for a in morning["annotations"]["list"] if a["name"] == "Setpoint writes"]
    (counts,) = [p for p in morning["panels"] if p["title"] == "Setpoint writes and reverts, 24 h"]
    writes_24h = counts["targets"][0]["expr"]
    event = f"count({_site(writes_annotation)})"
    one = [{"labels": "{}", "value": 1}]

    def at(minute: int, expr: str, samples: list[dict[str, object]]) -> dict[str, object]:
        return {"expr": expr, "eval_time": f"{minute}m", "exp_samples": samples}

    cases = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                # no write for 9 minutes ("_x9": 0-8 min); the first write at 9 min (the counter appears at 1),
                # another at 20 min
                "input_series": [{"series": f"pue_setpoint_writes_total{{{LABELS}}}", "values": "_x9 1x10 2x20"}],
                "promql_expr_test": [
                    at(5, event, []),
                    at(10, event, one),  # born: increase() alone would miss it
                    at(15, event, []),
                    at(20, event, one),  # grew
                    at(28, event, []),
                    at(30, _site(writes_24h), [{"labels": '{site="s"}', "value": 2}]),  # both, born in the window
                    at(25, _site(queries.grown(queries.WRITES, "10m")), [{"labels": '{site="s"}', "value": 1}]),
                ],
            }
        ],
    }
    test_file = tmp_path / "morning.test.yml"
    test_file.write_text(yaml.safe_dump(cases, sort_keys=False))
    out = subprocess.run(
        [promtool, "test", "rules", test_file.name], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
