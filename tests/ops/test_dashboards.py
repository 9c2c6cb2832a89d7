"""Grafana dashboards and provisioning, statically: they parse, are generated from
grafana/build_dashboards.py, use the provisioned datasource by uid, sit on the 24-column grid and only
query series that exist."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config.standards import load_standards

sys.path.insert(0, str(Path(__file__).resolve().parent))
from opsrefs import (
    DASHBOARD_FILES,
    DATASOURCE_UID,
    GRAFANA,
    known_metric_names,
    load_dashboards,
    metric_names_in,
    panel_targets,
)

UNITS = {
    "watt",
    "kwatt",
    "kwatth",
    "celsius",
    "percent",
    "percentunit",
    "none",
    "s",
    "masskg",
    "suffix: CNY",
    "suffix: CNY/kWh",
}
EXPECTED_UIDS = {"pue-morning", "pue-site-overview", "pue-cooling", "pue-energy-audit", "pue-agent-health"}
DASHBOARDS = load_dashboards()
#: the morning view's reference lines: GB 40879 grade limits and the current national targets, from the dated
#: table the reports use (agent/data/pue_targets.yaml)
REFERENCE_PUE = sorted({*load_standards().grade.limits, *(t.value for t in load_standards().current_targets)})


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA / "build_dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_json_is_what_the_builder_writes() -> None:
    rendered = _builder().render()
    assert sorted(rendered) == [p.name for p in DASHBOARD_FILES]
    for name, text in rendered.items():
        assert (GRAFANA / "dashboards" / name).read_text() == text, (
            f"{name} is stale: run `python grafana/build_dashboards.py`"
        )


def test_uids_are_stable_and_unique() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids))
    assert set(uids) == EXPECTED_UIDS


def test_datasource_provisioning_has_the_fixed_uid() -> None:
    files = list((GRAFANA / "provisioning" / "datasources").glob("*.yaml"))
    assert files
    sources = [s for f in files for s in yaml.safe_load(f.read_text())["datasources"]]
    prom = [s for s in sources if s["type"] == "prometheus"]
    assert [s["uid"] for s in prom] == [DATASOURCE_UID]
    assert all(yaml.safe_load(f.read_text())["apiVersion"] == 1 for f in files)


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "pue.yaml").read_text())["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((GRAFANA.parent / "deploy" / "docker-compose.yml").read_text())
    mounts = dict(
        v.rsplit(":", 1)[0].split(":") for v in compose["services"]["grafana"]["volumes"] if v.startswith(".")
    )
    assert mounts["../grafana/dashboards"] == provider["options"]["path"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_is_provisionable(name: str) -> None:
    dash = DASHBOARDS[name]
    text = (GRAFANA / "dashboards" / name).read_text()
    assert "__inputs" not in dash and "${DS_" not in text, "provisioned dashboards cannot use import inputs"
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    assert dash["title"].startswith("PUE")
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_use_the_provisioned_datasource_and_units(name: str) -> None:
    for panel in DASHBOARDS[name]["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"] in UNITS, panel["title"]
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    assert prop["value"] in UNITS
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
    for var in DASHBOARDS[name]["templating"]["list"]:
        if var["type"] == "query":
            assert var["datasource"]["uid"] == DATASOURCE_UID


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_fit_the_24_column_grid_without_overlap(name: str) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in DASHBOARDS[name]["panels"]:
        g = panel["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["y"] >= 0, panel["title"]
        assert g["x"] + g["w"] <= 24, f"{panel['title']} ends at column {g['x'] + g['w']}"
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_queries_use_rate_interval_defined_variables_and_existing_series(name: str) -> None:
    dash = DASHBOARDS[name]
    variables = {v["name"] for v in dash["templating"]["list"]}
    known = known_metric_names()
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            match = re.fullmatch(r"label_values\((.*), (\w+)\)", var["query"]["query"])
            assert match, var["query"]
            assert metric_names_in(match.group(1)) <= known
    assert {"site"} <= variables
    for panel, target in panel_targets(dash):
        expr = target["expr"]
        for rate_window in re.findall(r"\brate\([^\[]*\[([^\]]+)\]", expr):
            assert rate_window == "$__rate_interval", (panel["title"], expr)
        used = set(re.findall(r"\$(\w+)", expr)) - {"__rate_interval", "__interval", "__range", "__range_s"}
        assert used <= variables, (panel["title"], used - variables)
        unknown = metric_names_in(expr) - known
        assert not unknown, f"{panel['title']}: {unknown} is neither exported, recorded nor allow-listed"
        assert 'site=~"$site"' in expr or "label_values" in expr, f"{panel['title']} ignores $site: {expr}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_says_what_it_shows(name: str) -> None:
    for panel in DASHBOARDS[name]["panels"]:
        assert len(panel.get("description", "").strip()) >= 30, f"{name}: {panel['title']!r} has no description"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_annotations_query_known_series_of_the_selected_site(name: str) -> None:
    known = known_metric_names()
    for ann in DASHBOARDS[name]["annotations"]["list"]:
        assert ann["datasource"]["uid"] == DATASOURCE_UID
        assert metric_names_in(ann["expr"]) <= known, ann["name"]
        assert 'site=~"$site"' in ann["expr"], ann["name"]


def _morning() -> dict[str, Any]:
    return next(d for d in DASHBOARDS.values() if d["uid"] == "pue-morning")


def test_the_morning_check_has_what_an_operator_looks_at_first() -> None:
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in _morning()["panels"]}
    wanted = {
        "rack inlet": "rack_inlet_temperature_celsius",
        "devices down": "pue_device_up",
        "PUE yesterday": 'pue_site_energy_joules_total{site=~"$site",boundary="facility"}',
        "pending recommendation": "pue_recommendation_pending_approval",
        "energy cost": "pue_site_energy_cost_cny_total",
        "tariff price": "pue_site_tariff_price_cny_per_kwh",
        "writes": "pue_setpoint_writes_total",
    }
    for what, series in wanted.items():
        assert any(series in e for e in exprs.values()), f"no panel shows {what}"
    names = {a["name"]: a["expr"] for a in _morning()["annotations"]["list"]}
    assert "pue_setpoint_writes_total" in names["Setpoint writes"]
    assert "pue_setpoint_reverts_total" in names["Setpoint reverts"]


def test_yesterday_and_month_to_date_pue_use_calendar_ranges_and_the_grade_lines() -> None:
    panels = {p["title"]: p for p in _morning()["panels"]}
    yesterday, month = panels["PUE yesterday"], panels["PUE month to date"]
    assert (yesterday["timeFrom"], yesterday["timeShift"]) == ("now/d", "1d/d")  # yesterday 00:00-24:00
    assert month["timeFrom"] == "now/M" and "timeShift" not in month
    for p in (yesterday, month):
        (target,) = p["targets"]
        assert target["instant"] and "increase(" in target["expr"] and "[$__range]" in target["expr"]
    daily = panels["Daily PUE this month against the targets and GB 40879 grades"]
    assert daily["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
    for p in (yesterday, month, daily):
        steps = [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]]
        assert steps == [None, *REFERENCE_PUE], p["title"]
