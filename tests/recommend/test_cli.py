"""``pue-agent model fit`` / ``recommend``: round trip, bad input (exit 2 naming line and column)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from agent.app.cli import main
from agent.control.artefact import FORMAT_VERSION

CONDITIONS = (
    "timestamp,it_power_w,outdoor_dry_bulb_c,outdoor_wet_bulb_c,supply_air_setpoint_c,chw_supply_setpoint_c,"
    "economizer_enabled\n"
    "2026-01-10T00:00:00Z,800000,8,6,18,7,0\n"
    "2026-01-10T01:00:00Z,820000,9,7,18,7,0\n"
)


@pytest.fixture(scope="module")
def model_dir(history_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "m"
    assert main(["model", "fit", "--history", str(history_csv), "--out", str(out)]) == 0
    return out


def test_fit_writes_model_and_sidecar(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sidecar = json.loads((model_dir / "model.json").read_text())
    assert sidecar["format_version"] == FORMAT_VERSION == 2
    assert {"numpy", "scikit-learn", "skops", "python"} <= set(sidecar["library_versions"])
    assert sidecar["training_window"]["rows"] == 1440
    assert sidecar["validation"]["pue_mae"] < 0.01
    assert "free_cooling_margin_k" in sidecar["features"]
    assert sidecar["validation"]["calibration_coverage"] == 0.99
    assert sidecar["validation"]["max_inlet_within_2std_percent"] >= 95.0


def test_recommend_round_trip(model_dir: Path, tmp_path: Path) -> None:
    conditions = tmp_path / "c.csv"
    conditions.write_text(CONDITIONS)
    out = tmp_path / "r.csv"
    assert main(["recommend", "--model", str(model_dir), "--conditions", str(conditions), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 2
    for row in rows:
        assert row["held_back_reason"] == ""
        assert 16.0 <= float(row["supply_air_setpoint_c"]) <= 25.0
        assert float(row["predicted_max_inlet_c"]) <= 27.0
        assert float(row["predicted_savings_w"]) > 0  # the legacy 18/7 C without economizer is wasteful
        assert 1.0 < float(row["predicted_pue"]) < float(row["predicted_pue_now"])


def test_recommend_with_bounds(model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(CONDITIONS)
    (tmp_path / "b.yaml").write_text("supply_air_max_c: 19.0\n")
    out = tmp_path / "r.csv"
    assert (
        main(
            [
                "recommend",
                "--model",
                str(model_dir),
                "--conditions",
                str(tmp_path / "c.csv"),
                "--out",
                str(out),
                "--bounds",
                str(tmp_path / "b.yaml"),
            ]
        )
        == 0
    )
    for row in csv.DictReader(out.read_text().splitlines()):
        assert float(row["supply_air_setpoint_c"]) <= 19.0
    # the winter history never ran without the economizer: forbidding it leaves no supported setpoint
    (tmp_path / "b.yaml").write_text("allow_economizer: false\n")
    assert (
        main(
            [
                "recommend",
                "--model",
                str(model_dir),
                "--conditions",
                str(tmp_path / "c.csv"),
                "--out",
                str(out),
                "--bounds",
                str(tmp_path / "b.yaml"),
            ]
        )
        == 0
    )
    for row in csv.DictReader(out.read_text().splitlines()):
        assert row["supply_air_setpoint_c"] == "" and "data support" in row["held_back_reason"]


def test_bad_bounds_key(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.csv").write_text(CONDITIONS)
    (tmp_path / "b.yaml").write_text("supply_air_maximum_c: 19.0\n")
    assert (
        main(
            [
                "recommend",
                "--model",
                str(model_dir),
                "--conditions",
                str(tmp_path / "c.csv"),
                "--out",
                str(tmp_path / "r.csv"),
                "--bounds",
                str(tmp_path / "b.yaml"),
            ]
        )
        == 2
    )
    assert "unknown key 'supply_air_maximum_c'" in capsys.readouterr().err


def test_wrong_format_version_refused(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for name in ("model.skops", "model.json"):
        (old / name).write_bytes((model_dir / name).read_bytes())
    sidecar = json.loads((old / "model.json").read_text())
    sidecar["format_version"] = 0
    (old / "model.json").write_text(json.dumps(sidecar))
    (tmp_path / "c.csv").write_text(CONDITIONS)
    assert (
        main(
            [
                "recommend",
                "--model",
                str(old),
                "--conditions",
                str(tmp_path / "c.csv"),
                "--out",
                str(tmp_path / "r.csv"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "format version 0" in err and f"reads version {FORMAT_VERSION}" in err


def test_tampered_model_refused(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.json").write_bytes((model_dir / "model.json").read_bytes())
    (bad / "model.skops").write_bytes((model_dir / "model.skops").read_bytes() + b"x")
    (tmp_path / "c.csv").write_text(CONDITIONS)
    assert (
        main(
            [
                "recommend",
                "--model",
                str(bad),
                "--conditions",
                str(tmp_path / "c.csv"),
                "--out",
                str(tmp_path / "r.csv"),
            ]
        )
        == 2
    )
    assert "checksum" in capsys.readouterr().err


def _history_lines(history_csv: Path) -> list[str]:
    return history_csv.read_text().splitlines()


def _fit(tmp_path: Path, lines: list[str]) -> int:
    path = tmp_path / "h.csv"
    path.write_text("\n".join(lines) + "\n")
    return main(["model", "fit", "--history", str(path), "--out", str(tmp_path / "m")])


def _replace_cell(line: str, index: int, value: str) -> str:
    cells = line.split(",")
    cells[index] = value
    return ",".join(cells)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda ls: [ls[0].replace("it_power_w", "it_power_kw"), *ls[1:]],
            ["h.csv:1", "missing column", "'it_power_w'", "it_power_kw"],
        ),
        (
            lambda ls: [ls[0].replace(",pue", ""), *(line.rsplit(",", 1)[0] for line in ls[1:])],
            ["h.csv:1", "'pue'"],
        ),
        (
            lambda ls: [ls[0], ls[1], _replace_cell(ls[2], 3, "abc"), *ls[3:]],
            ["h.csv:3", "column 'it_power_w'", "not a number: 'abc'"],
        ),
        (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], ["h.csv:3", "column 'timestamp'", "out of order"]),
        (lambda ls: [ls[0], ls[1], ls[1], *ls[2:]], ["h.csv:3", "column 'timestamp'", "duplicate"]),
        (
            lambda ls: [ls[0], _replace_cell(ls[1], 10, "2"), *ls[2:]],
            ["h.csv:2", "column 'economizer_enabled'", "0 or 1"],
        ),
        (lambda ls: ls[:50], ["too little data", "49 rows"]),
        (
            lambda ls: [
                ls[0],
                *(_replace_cell(_replace_cell(line, 8, "18.00"), 9, "7.00") for line in ls[1:]),
            ],
            ["column 'supply_air_setpoint_c'", "too little setpoint variation"],
        ),
    ],
    ids=[
        "misnamed",
        "missing",
        "non-numeric",
        "unsorted",
        "duplicate",
        "bad-boolean",
        "too-few",
        "no-variation",
    ],
)
def test_bad_history_exit_2(
    history_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate, expected
) -> None:  # type: ignore[no-untyped-def]
    assert _fit(tmp_path, list(mutate(_history_lines(history_csv)))) == 2
    err = capsys.readouterr().err
    for fragment in expected:
        assert fragment in err, err


def test_bad_conditions_exit_2(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.csv").write_text(CONDITIONS.replace("820000", "n/a"))
    assert (
        main(
            [
                "recommend",
                "--model",
                str(model_dir),
                "--conditions",
                str(tmp_path / "c.csv"),
                "--out",
                str(tmp_path / "r.csv"),
            ]
        )
        == 2
    )
    assert "c.csv:3: column 'it_power_w': not a number: 'n/a'" in capsys.readouterr().err


def test_live_unreachable_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "--live", "http://127.0.0.1:9"]) == 1
    assert "cannot reach http://127.0.0.1:9/api/v1/recommendation" in capsys.readouterr().err
