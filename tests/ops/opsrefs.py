"""What the operations files (Prometheus rules, Grafana dashboards) may refer to, and how to find it.

Shared by the static and the end-to-end tests in this directory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from agent.devices.quantities import GLOSSARY
from agent.export import metric_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROM_DIR / "rules").glob("*.rules.yml"))
RULE_TESTS = PROM_DIR / "tests" / "pue-rules.test.yml"
GRAFANA = ROOT / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE_UID = "pue-prometheus"

#: Exported only after a setpoint write (modes approve/auto): the demo runs the recommender in advise
#: mode, which never writes, so these two counters have no samples there, nor the realised savings of each
#: applied change (the day and month sums are exported from the start, 0). Checked statically only.
RECOMMENDER_METRICS_NOT_YET_EXPORTED = frozenset(
    {
        "pue_setpoint_writes_total",
        "pue_setpoint_reverts_total",
        "pue_recommendation_realised_savings_watts",
        "pue_recommendation_realised_savings_predicted_watts",
    }
)

#: Exported by the agent but empty on a healthy demo site: the twin's meters never wrap, reset, stick
#: at a cap or jump at --speed 1, so no counter event is ever counted. Checked statically only.
EMPTY_ON_HEALTHY_DEMO = frozenset({"pue_device_counter_events_total"})

#: Recording rules of shard mode (`pue-agent run --shard I/N`): empty on the demo, whose one agent is not sharded.
#: tests/faults/test_shards.py evaluates them with a real Prometheus over two shard agents.
SHARD_RULE_FILE = PROM_DIR / "rules" / "pue-shards.rules.yml"

#: Series Prometheus itself produces.
PROMETHEUS_BUILTINS = frozenset({"up", "scrape_duration_seconds", "ALERTS", "ALERTS_FOR_STATE"})

_PROMQL_WORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "Inf",
        "NaN",
        # aggregation operators, which may be followed by `by (...)` before their parenthesis
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "limitk",
        "limit_ratio",
    }
)


def agent_metric_names() -> set[str]:
    """Every series name the agent exports: glossary (counters with ``_total``) and metric_names."""
    names = {q.metric + ("_total" if q.kind == "counter" else "") for q in GLOSSARY.values()}
    for attr, value in vars(metric_names).items():
        if attr.isupper() and isinstance(value, str) and value.startswith(f"{metric_names.PREFIX}_"):
            names.add(value)
            names.add(f"{value}_total")  # counters are named without the suffix in metric_names
    return names


def load_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def recorded_names() -> set[str]:
    return {r["record"] for r in load_rules() if "record" in r}


def shard_recorded_names() -> set[str]:
    """What the shard-mode rules record (no series without shard agents)."""
    return {r["record"] for g in yaml.safe_load(SHARD_RULE_FILE.read_text())["groups"] for r in g["rules"]}


def known_metric_names() -> set[str]:
    return agent_metric_names() | recorded_names() | PROMETHEUS_BUILTINS | RECOMMENDER_METRICS_NOT_YET_EXPORTED


def metric_names_in(expr: str) -> set[str]:
    """Series names a PromQL expression selects (functions, keywords, labels and numbers left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(r"\$\{?\w+\}?", " 1 ", text)  # Grafana variables
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", r" \1 ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word in _PROMQL_WORDS or re.fullmatch(r"[eE]\d+", word):
            continue
        names.add(word)
    return names


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in DASHBOARD_FILES}


def panel_targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query of a dashboard, rows included."""
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner, target
