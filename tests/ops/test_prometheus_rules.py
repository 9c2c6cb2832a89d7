"""The Prometheus rules: promtool checks and unit tests, naming, and the series they read."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from opsrefs import RULE_FILES, RULE_TESTS, known_metric_names, load_rules, metric_names_in

RECORD_NAME = re.compile(r"^[a-z]+(_[a-z]+)*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


def _promtool() -> str:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make test` installs Debian's prometheus package"
    return promtool


def test_rule_files_pass_promtool_check_rules() -> None:
    assert RULE_FILES, "no rule files under deploy/prometheus/rules"
    out = subprocess.run(
        [_promtool(), "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_rule_unit_tests_pass_promtool_test_rules() -> None:
    out = subprocess.run(
        [_promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_every_rule_has_a_unit_test() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested_exprs = {t["expr"] for case in tests for t in case.get("promql_expr_test", [])}
    tested_alerts = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    rules = load_rules()
    untested = [r["record"] for r in rules if "record" in r and r["record"] not in tested_exprs]
    untested += [r["alert"] for r in rules if "alert" in r and r["alert"] not in tested_alerts]
    assert not untested, f"rules without a promtool unit test that expects a result: {untested}"


def test_recording_rules_are_named_level_metric_operations() -> None:
    bad = [r["record"] for r in load_rules() if "record" in r and not RECORD_NAME.match(r["record"])]
    assert not bad, f"not level:metric:operations: {bad}"
    levels = {r["record"].split(":")[0] for r in load_rules() if "record" in r}
    for rule in load_rules():
        if "record" in rule:
            level = rule["record"].split(":")[0]
            by = re.search(r"\bby \(([^)]*)\)", rule["expr"])
            if by:  # the level names the labels the outer aggregation keeps
                kept = {s.strip() for s in by.group(1).split(",")}
                assert kept == set(level.split("_")), (rule["record"], kept)
    assert levels <= {"site", "site_boundary", "site_zone"}


def test_alerts_have_severity_and_summary() -> None:
    for rule in load_rules():
        if "alert" in rule:
            assert rule["alert"].startswith("Pue"), rule["alert"]
            assert rule["labels"]["severity"] in {"info", "warning", "critical"}
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]


@pytest.mark.parametrize("rule", load_rules(), ids=lambda r: r.get("record") or r.get("alert"))
def test_rules_read_only_series_that_exist(rule: dict[str, object]) -> None:
    unknown = metric_names_in(str(rule["expr"])) - known_metric_names()
    assert not unknown, f"{unknown} is neither exported by the agent nor recorded by a rule"


def test_ratios_are_never_averaged() -> None:
    """PUE-type ratios divide sums; an avg() over a ratio series would weight shards wrongly."""
    for rule in load_rules():
        expr = str(rule["expr"])
        assert not re.search(r"avg(_over_time)?\s*(by \([^)]*\)\s*)?\(\s*site\w*:pue\w*:ratio", expr), expr
