"""What the command line prints for an operator: units beside SI in `read`, the start-up and shutdown summaries."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from agent.app.progress import progress
from agent.app.summary import PollCounter, shutdown_line, startup_lines
from agent.app.units import operator_value, si_text
from agent.config.site import load_config
from agent.site.poller import AgentState

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo-site.yaml"


@pytest.mark.parametrize(
    ("quantity", "value", "unit", "expected"),
    [
        ("energy_j", 1.26461e10, "J", (3512.8, "kWh")),
        ("active_power_w", 21_500.0, "W", (21.5, "kW")),
        ("relative_humidity_ratio", 0.41, "1", (41.0, "%RH")),
        ("load_ratio", 0.25, "1", (25.0, "%")),
        ("battery_runtime_s", 1800.0, "s", (30.0, "min")),
        ("rack_inlet_temp_c", 23.4, "Cel", None),
        ("voltage_v", 230.0, "V", None),
        ("economizer_enabled", 1.0, "1", None),
    ],
)
def test_operator_units_beside_si(quantity: str, value: float, unit: str, expected: tuple[float, str] | None) -> None:
    shown = operator_value(quantity, value, unit)
    if expected is None:
        assert shown is None
    else:
        assert shown is not None and shown[1] == expected[1] and shown[0] == pytest.approx(expected[0], abs=0.05)


def test_si_values_print_without_exponent_or_ucum_spelling() -> None:
    assert si_text(1.26461e10, "J") == ("12,646,100,000", "J")
    assert si_text(23.4, "Cel") == ("23.4", "°C")
    assert si_text(0.41, "1") == ("0.41", "")


def test_startup_summary_names_roles_profiles_topology_and_the_metrics_url_once() -> None:
    cfg, _profiles = load_config(DEMO)
    lines = startup_lines(cfg, "http://127.0.0.1:10330/metrics")
    assert lines[0] == "site demo-hall: 7 devices (7 enabled) polled every 2 s"
    assert "  pdu 4: apc-rpdu2 x4" in lines and "  ups 2: rfc1628-ups x2" in lines
    assert lines[-2:] == ["recommender: off", "metrics at http://127.0.0.1:10330/metrics"]
    assert sum("metrics at" in line for line in lines) == 1


def test_shutdown_line_before_any_site_tick() -> None:
    counter = PollCounter()
    line = shutdown_line("SIGINT", 3.2, counter, AgentState())
    assert line == "pue-agent: stopped (SIGINT) after 3 s: 0 polls, 0 failed; last realtime PUE: no site tick yet"


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_progress_off_a_terminal_is_silent_for_a_short_step_and_periodic_for_a_long_one() -> None:
    quick = _Pipe()
    with progress("import", total=10, unit="MB", stream=quick, every_s=5.0) as step:
        step.update(10)
    assert quick.getvalue() == ""
    slow = _Pipe()
    with progress("model fit: fitting", stream=slow, every_s=0.2):
        deadline = time.monotonic() + 60.0  # no update: the heartbeat alone must say it is alive
        while not slow.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    lines = slow.getvalue().splitlines()
    assert len(lines) >= 2 and lines[0].startswith("model fit: fitting: ") and "s elapsed" in lines[0]
    assert lines[-1].startswith("model fit: fitting: done in ")
