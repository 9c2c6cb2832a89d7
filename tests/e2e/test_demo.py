"""`pue-agent demo` end to end: simulated site over real UDP, agent, /metrics over HTTP, promtool."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port, free_udp_range, sample, scrape

pytestmark = pytest.mark.e2e


def _wait_for(url: str, name: str, proc: subprocess.Popen[str], timeout_s: float = 90.0, **labels: str) -> str:
    """The first scrape of ``url`` holding ``name``; fails at once when the demo has exited."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            last = scrape(url)
            if sample(last, name, **labels) is not None:
                return last
        except OSError as e:
            last = f"({e})"
        time.sleep(0.5)
    ended = f"the demo exited with {proc.returncode}" if proc.poll() is not None else f"not within {timeout_s:g} s"
    raise AssertionError(f"{name} never appeared at {url} ({ended}); last scrape:\n{last[-3000:]}")


def _stopped(proc: subprocess.Popen[str]) -> str:
    """Stop the demo and return all it printed."""
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return out


@pytest.mark.parametrize("site", ["twin", "twin-mixed"])  # twin-mixed: the meters answer Modbus TCP
def test_demo_serves_pue_matching_the_simulated_truth(tmp_path: Path, site: str) -> None:
    listen = free_port()
    truth_file = tmp_path / "truth.json"
    exe = Path(sys.executable).with_name("pue-agent")
    proc = subprocess.Popen(
        [
            str(exe),
            "demo",
            "--site",
            site,
            "--duration",
            "60",
            "--speed",
            "1",
            "--base-port",
            str(free_udp_range(26)),
            "--listen-port",
            str(listen),
            "--truth-file",
            str(truth_file),
            "--history",
            str(tmp_path / "h.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{listen}/metrics"
    try:
        text = _wait_for(url, "pue_site_realtime_pue", proc)
        errors = []
        for _ in range(5):
            text = scrape(url)
            truth = json.loads(truth_file.read_text())["pue"]
            measured = sample(text, "pue_site_realtime_pue")
            assert measured is not None
            errors.append(abs(measured - truth) / truth)
            time.sleep(1.0)
        assert max(errors) < 0.005, f"relative PUE errors {errors}"
        for device in ("meter-main", "meter-pv", "ups-a", "ups-b", "pdu-row-a", "crah-1", "chiller-plant", "outdoor"):
            assert sample(text, "pue_device_up", device=device) == 1.0
        assert sample(text, "pue_site_it_measurement_category") == 1.0
        assert sample(text, "pue_device_energy_joules_total", device="meter-main") is not None
        # the twin's topology declares PV, heat-reuse and water meters: their site totals are exported
        site_totals = [sample(text, "pue_site_energy_joules_total", boundary=b) for b in ("renewable", "reuse")]
        site_totals.append(sample(text, "pue_site_water_cubic_meters_total"))
        assert all(v is not None and v >= 0.0 for v in site_totals), site_totals
        assert (sample(text, "pue_device_water_volume_cubic_meters_total", device="chiller-plant") or 0.0) > 4e4
        assert "twin-auth-key-ro-01" not in text and "twin-community-ro" not in text
        if site == "twin-mixed":  # four servers' BMCs over Redfish (HTTPS, the demo's own CA)
            servers = [f"srv-a01-u{u}" for u in (10, 12, 14, 16)]
            assert all(sample(text, "pue_device_up", device=s) == 1.0 for s in servers), text[-2000:]
            assert "twin-bmc-password-01" not in text

        promtool = shutil.which("promtool")
        assert promtool, "promtool missing: `make test` installs Debian's prometheus package"
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0 and not (check.stdout + check.stderr).strip(), check.stdout + check.stderr
    except AssertionError as e:  # what the demo printed says why (a port taken, a crash)
        raise AssertionError(f"{e}\ndemo output:\n{_stopped(proc)[-4000:]}") from e
    finally:
        if proc.stdout is not None and not proc.stdout.closed:
            out = _stopped(proc)
    assert "metrics at http://127.0.0.1" in out
    assert out.count("metrics at ") == 1  # printed twice (log line and print) before issue 18
    assert "twin-auth-key-ro-01" not in out and "twin-priv-key-ro-01" not in out


def test_mixed_demo_in_auto_writes_the_plant_over_bacnet_at_priority_8(tmp_path: Path) -> None:
    """`demo --site twin-mixed --recommender auto`: chilled water and economizer go to the BACnet plant controller."""
    listen = free_port()
    exe = Path(sys.executable).with_name("pue-agent")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}  # its own action log
    proc = subprocess.Popen(
        [
            str(exe),
            "demo",
            "--site",
            "twin-mixed",
            "--recommender",
            "auto",
            "--duration",
            "240",
            "--base-port",
            str(free_udp_range(26)),
            "--listen-port",
            str(listen),
            "--history",
            str(tmp_path / "h.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    log = tmp_path / "state" / "pue-agent" / "demo" / "actions.jsonl"
    plant: list[dict[str, object]] = []
    try:
        deadline = time.monotonic() + 200.0  # a fresh machine trains the demo's model first
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists():
                records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
                plant = [r for r in records if r["device"] == "chiller-plant" and r["result"] == "ok"]
                if plant:
                    break
            time.sleep(0.5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert plant, f"no write to the BACnet plant controller; demo output:\n{out[-3000:]}"
    assert {r["quantity"] for r in plant} <= {"chw_supply_setpoint_c", "economizer_enabled", "fan_min_speed_ratio"}
    assert all("BACnet priority 8 (manual operator)" in str(r["reason"]) for r in plant), plant
    assert all(r["after"] == pytest.approx(r["requested"], abs=0.05) for r in plant), plant  # read back
