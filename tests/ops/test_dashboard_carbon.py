"""The energy-audit dashboard's emissions and CUE queries, evaluated by promtool on known series: grid
electricity (facility less on-site PV) times a location-based factor; a market-based factor gives no data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")
#: one hour of counters at 1 min: facility 1,000 kW, rooftop PV 100 kW (site a only), IT 800 kW
FACILITY_J, PV_J, IT_J = 1000e3 * 60, 100e3 * 60, 800e3 * 60


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [q for p in panels for q in (p, *_panels(p.get("panels", [])))]


def _counter(labels: str, per_min: float) -> dict[str, str]:
    return {
        "series": f"pue_site_energy_joules_total{{{labels}}}",
        "values": " ".join(str(per_min * i) for i in range(121)),
    }


def _factor(site: str, route: str) -> dict[str, str]:
    labels = f'site="{site}",factor="k",year="2022",region="guizhou",route="{route}"'
    return {"series": f"pue_site_emission_factor_kg_per_kwh{{{labels}}}", "values": "0.4989+0x120"}


# `make test` installs promtool (Debian prometheus); a run outside it may skip, CI (CI=true) never does
@pytest.mark.skipif(PROMTOOL is None and not os.environ.get("CI"), reason="promtool not installed")
def test_emissions_and_cue_charge_grid_electricity_only(tmp_path: Path) -> None:
    dashboard = json.loads((ROOT / "grafana" / "dashboards" / "energy-audit.json").read_text())
    exprs = {
        p["title"]: t["expr"].replace("$__range", "1h").replace("$site", ".*")
        for p in _panels(dashboard["panels"])
        for t in p.get("targets", [])
        if p["title"] in ("Emissions", "CUE [kg CO2/kWh IT]")
    }
    assert set(exprs) == {"Emissions", "CUE [kg CO2/kWh IT]"}
    # rounded to 1e-4: promtool compares samples exactly
    recorded = {"test:emissions": exprs["Emissions"], "test:cue": exprs["CUE [kg CO2/kWh IT]"]}
    rules = {
        "groups": [
            {"name": "carbon", "rules": [{"record": k, "expr": f"round({v}, 0.0001)"} for k, v in recorded.items()]}
        ]
    }
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    series = [
        _counter('site="a",boundary="facility"', FACILITY_J),
        _counter('site="a",boundary="renewable"', PV_J),
        _counter('site="a",boundary="it"', IT_J),
        _counter('site="b",boundary="facility"', FACILITY_J),  # no PV meter: all of it is grid electricity
        _counter('site="b",boundary="it"', IT_J),
        _counter('site="c",boundary="facility"', FACILITY_J),  # a market-based factor: no figure
        _counter('site="c",boundary="it"', IT_J),
        _factor("a", "location"),
        _factor("b", "location"),
        _factor("c", "market"),
    ]
    expected = {
        "test:emissions": {"a": 900 * 0.4989, "b": 1000 * 0.4989},  # kg over the hour
        "test:cue": {"a": 900 * 0.4989 / 800, "b": 1000 * 0.4989 / 800},
    }
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": name,
                        "eval_time": "100m",
                        "exp_samples": [
                            {"labels": f'{name}{{site="{site}"}}', "value": round(value, 4)}
                            for site, value in sites.items()
                        ],
                    }
                    for name, sites in expected.items()
                ],
            }
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
