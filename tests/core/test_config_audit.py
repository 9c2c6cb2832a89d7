"""The site config's audit sections: identity, meter register, bills and the sub-system/unit/energy-type tags."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.config.site import load_config
from agent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, edit: dict[str, object], topology: dict[str, object] | None = None) -> Path:
    data = yaml.safe_load((ROOT / "configs" / "demo-site.yaml").read_text())
    data.update(edit)
    if topology:
        data["topology"].update(topology)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_twin_config_has_a_register_bills_and_tags() -> None:
    cfg, _ = load_config(ROOT / "configs" / "twin-site.yaml")
    assert cfg.site.report_number_prefix == "GA-H1-PUE" and cfg.site.owner and cfg.site.preparer
    assert [m.id for m in cfg.meters][:2] == ["M-01", "M-02"] and len(cfg.bills) == 12
    groups = {(kind, name): [t.device for t in terms] for kind, name, terms in cfg.topology.tag_groups()}
    assert groups == {
        ("energy_type", "grid_electricity"): ["meter-main"],
        ("energy_type", "onsite_renewable"): ["meter-pv"],
        ("unit", "hall-1"): ["meter-main", "meter-pv"],
    }


def test_every_register_and_bill_problem_is_named_by_its_key(tmp_path: Path) -> None:
    meters = [
        {
            "id": "M-1",
            "device": "meter-main",
            "location": "incomer",
            "accuracy_class": "0.5S",
            "calibrated": "2026-01-01",
            "calibration_due": "2025-01-01",
        },
        {
            "id": "M-1",
            "device": "meter-nowhere",
            "location": "x",
            "accuracy_class": "1",
            "calibrated": "2025-01-01",
            "calibration_due": "2027-01-01",
        },
        {
            "id": "M-3",
            "location": "utility meter",
            "accuracy_class": "0.2S",
            "calibrated": "2025-01-01",
            "calibration_due": "2027-01-01",
        },
        {
            "id": "M-4",
            "device": "ups-a",
            "boundary": "it",
            "location": "x",
            "accuracy_class": "1",
            "calibrated": "2025-01-01",
            "calibration_due": "2027-01-01",
        },
        {
            "id": "M-5",
            "device": "ups-b",
            "location": "x",
            "accuracy_class": "1",
            "calibrated": "2025-01-01",
            "calibration_due": "2027-01-01",
            "colour": "red",
            "ct_ratio": "1000:5",
        },
    ]
    bills = [
        {"start": "2026-01-01", "end": "2026-01-31", "kwh": 100.0},
        {"start": "2026-01-20", "end": "2026-02-28", "kwh": 100.0},
        {"start": "2026-04-01", "end": "2026-03-01", "kwh": 1.0},
        {"start": "2026-05-01", "end": "2026-05-31", "kwh": -1},
    ]
    path = _write(tmp_path, {"meters": meters, "bills": bills})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    for expected in (
        "meters[0]: calibration_due 2025-01-01 must be after calibrated 2026-01-01",
        "meters[2]: a meter without a device needs boundary",
        "meters[3]: a meter with a device takes its boundary, subsystem and unit from the topology",
        "meters[4].ct_ratio",
        "meters[4].colour: unknown key",
        "bills[3].kwh",
        "bills[2]: end 2026-03-01 is before start 2026-04-01",
    ):
        assert expected in text, (expected, text)
    # cross-references are checked on a config that is otherwise valid
    path = _write(tmp_path, {"meters": [meters[1], {**meters[1], "device": "meter-main"}], "bills": bills[:2]})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "meters[0].device: no device named 'meter-nowhere'" in text
    assert "meters[1].id: meter id 'M-1' used more than once" in text
    assert "bills[1]: period 2026-01-20..2026-02-28 overlaps the bill 2026-01-01..2026-01-31" in text


def test_tags_are_checked(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {},
        {
            "it": [
                {"device": "ups-a", "energy_type": "diesel_generation"},
                {"device": "ups-b", "subsystem": "chillerz"},
            ],
            "submeters": [{"device": "pdu-r01"}, {"device": "pdu-r02", "subsystem": "lighting", "unit": "hall 1"}],
        },
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "topology.it[0].energy_type: only facility terms have an energy type" in text
    assert "topology.it[1].subsystem" in text and "chillers" in text  # the allowed names are listed
    assert "topology.submeters[0]: a submeter needs a subsystem or a unit tag" in text
    assert "topology.submeters[1].unit" in text


def test_identity_keys_are_strict(tmp_path: Path) -> None:
    path = _write(tmp_path, {"site": {"name": "hall", "owner": "业主", "report_number_prefix": "bad prefix!"}})
    with pytest.raises(ConfigError, match=r"site\.report_number_prefix"):
        load_config(path)
    path = _write(tmp_path, {"site": {"name": "hall", "owner": "业主", "reviewer": "李工", "preparer": "张工"}})
    assert load_config(path)[0].site.owner == "业主"
