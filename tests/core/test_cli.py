"""The pue-agent entry point dispatches every sub-command family (core, twin, model, history)."""

import subprocess
import sys
from pathlib import Path

EXE = str(Path(sys.executable).with_name("pue-agent"))


def test_every_feature_subcommand_is_registered() -> None:
    out = subprocess.run([EXE, "--help"], capture_output=True, text=True, timeout=60).stdout
    for command in (
        "check-config",
        "run",
        "read",
        "demo",
        "twin",
        "model",
        "recommend",
        "export",
        "import",
        "report",
        "profile",
        "discover",
    ):
        assert command in out, command


def test_twin_simulate_runs_through_the_main_entry_point(tmp_path: Path) -> None:
    out = tmp_path / "h.csv"
    proc = subprocess.run(
        [EXE, "twin", "simulate", "--days", "2", "--step-min", "60", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 49


def test_a_family_without_its_subcommand_exits_2() -> None:
    proc = subprocess.run([EXE, "twin"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
