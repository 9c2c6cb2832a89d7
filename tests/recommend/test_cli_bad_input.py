"""Bad input to ``model fit`` and ``recommend`` exits 2 with one line naming what and where, never a traceback.

Every case runs the real CLI in a subprocess, as an operator would.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cliutil import assert_bad_input

from twin.history_csv import write_site_history
from twin.simulate import simulate
from twin.weather import load_site_weather

EXE = str(Path(sys.executable).with_name("pue-agent"))
CONDITIONS = (
    "timestamp,it_power_w,outdoor_dry_bulb_c,outdoor_wet_bulb_c\n"
    "2026-01-02T00:00:00Z,780000,4,2\n"
    "2026-01-02T01:00:00Z,790000,5,3\n"
)


def _cli(*args: str | Path, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture(scope="module")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """15 days at 1 h with safe exploration: 360 rows, enough for a (quick) fit."""
    result = simulate(load_site_weather("guiyang"), days=15, step_s=3600.0, controller="oracle", explore_c=2.0)
    path = tmp_path_factory.mktemp("history") / "history.csv"
    write_site_history(result, path)
    return path


@pytest.fixture(scope="module")
def small_model(small_history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "m"
    proc = _cli("model", "fit", "--history", small_history, "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _edited(history: Path, tmp_path: Path, edit: Callable[[list[str]], None]) -> Path:
    lines = history.read_text().splitlines()
    edit(lines)
    path = tmp_path / "h.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:00:00-08:00"])
def test_fit_refuses_a_timestamp_out_of_range(small_history: Path, tmp_path: Path, stamp: str) -> None:
    def first_row_at(lines: list[str]) -> None:
        lines[1] = stamp + lines[1][lines[1].index(",") :]

    path = _edited(small_history, tmp_path, first_row_at)
    assert_bad_input(
        _cli("model", "fit", "--history", path, "--out", tmp_path / "m"), f"{path}:2", "timestamp", "out of range"
    )
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("fraction", ["0", "1.5", "nan", "1", "-0.2", "inf"])
def test_fit_refuses_a_holdout_fraction_outside_0_1(small_history: Path, tmp_path: Path, fraction: str) -> None:
    proc = _cli("model", "fit", "--history", small_history, "--out", tmp_path / "m", f"--holdout-fraction={fraction}")
    assert_bad_input(proc, "--holdout-fraction")


def test_fit_refuses_negative_cooling_power(small_history: Path, tmp_path: Path) -> None:
    column = small_history.read_text().splitlines()[0].split(",").index("cooling_power_w")

    def negative_on_line_5(lines: list[str]) -> None:
        cells = lines[4].split(",")
        cells[column] = "-" + cells[column]
        lines[4] = ",".join(cells)

    path = _edited(small_history, tmp_path, negative_on_line_5)
    assert_bad_input(
        _cli("model", "fit", "--history", path, "--out", tmp_path / "m"), f"{path}:5", "cooling_power_w", "must be >= 0"
    )


def test_fit_into_an_unwritable_out_exits_2(small_history: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    proc = _cli("model", "fit", "--history", small_history, "--out", blocker / "m")
    assert_bad_input(proc, "--out", str(blocker / "m"))
    assert blocker.read_text() == "not a directory\n"


@pytest.mark.parametrize("limit", ["inf", "nan", "-inf", "200"])
def test_recommend_refuses_an_inlet_limit_that_is_not_a_temperature(
    small_model: Path, tmp_path: Path, limit: str
) -> None:
    (tmp_path / "c.csv").write_text(CONDITIONS)
    proc = _cli(
        "recommend",
        "--model",
        small_model,
        "--conditions",
        tmp_path / "c.csv",
        "--out",
        tmp_path / "r.csv",
        f"--inlet-limit-c={limit}",
    )
    assert_bad_input(proc, "--inlet-limit-c")
    assert not (tmp_path / "r.csv").exists()


def test_recommend_into_an_unwritable_out_exits_2_and_keeps_the_model(small_model: Path, tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(CONDITIONS)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in small_model.iterdir()}
    out = tmp_path / "a-directory"
    out.mkdir()
    proc = _cli("recommend", "--model", small_model, "--conditions", tmp_path / "c.csv", "--out", out)
    assert_bad_input(proc, "--out", str(out))
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in small_model.iterdir()} == before
