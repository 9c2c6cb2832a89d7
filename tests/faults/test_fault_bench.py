"""The fault bench (bench/faults.py) run for real, briefly, so that it cannot rot: its CLI, the proxy, the twin,
the agent and the table. Kept to two kinds and a few seconds each; the bench itself runs minutes per kind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "faults.py"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _row(out: str, kind: str) -> list[str]:
    lines = [line for line in out.splitlines() if line.startswith(kind + " ")]
    assert len(lines) == 1, out
    return lines[0].split()


def test_fault_bench_smoke_run() -> None:
    """A spoofer (defect 10, fixed) and no reply at all: neither shows a wrong PUE marked valid."""
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--minutes",
            "0.2",
            "--kinds",
            "spoofed-source-port,no-reply",
            "--window",
            "12",
            "--warmup",
            "14",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "proxied devices speak SNMPv2c" in proc.stdout
    spoofed = _row(proc.stdout, "spoofed-source-port")
    assert spoofed[1] == "0", proc.stdout  # wrong minutes
    assert "tampered," in proc.stdout and "foreign dropped" in proc.stdout, proc.stdout
    silent = _row(proc.stdout, "no-reply")
    assert silent[1] == "0", proc.stdout
    assert "wall time" in proc.stdout


def test_fault_bench_refuses_an_unknown_kind() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--kinds", "cosmic-rays"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode == 2
    assert "unknown fault kind(s) cosmic-rays" in proc.stderr and "Traceback" not in proc.stderr
