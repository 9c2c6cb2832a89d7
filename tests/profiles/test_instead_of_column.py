"""``instead_of_column``: a fallback object read only when the device has no row in the preferred column."""

from __future__ import annotations

import pytest

from agent.devices.profiles import Profile
from agent.devices.readings import decode_objects
from agent.devices.snmp.seam import SnmpValue

UPS_MIB = "1.3.6.1.2.1.33.1.4.4.1.4"  # UPS-MIB::upsOutputPower (W)
XUPS = "1.3.6.1.4.1.534.1.4.4.1.4"  # XUPS-MIB::xupsOutputWatts (W)
XUPS_LOAD = "1.3.6.1.4.1.534.1.4.1.0"  # XUPS-MIB::xupsOutputLoad.0 (%)
UPS_LOAD = "1.3.6.1.2.1.33.1.4.4.1.5"  # UPS-MIB::upsOutputPercentLoad (%)


def _profile(**fallback: str) -> Profile:
    return Profile.model_validate(
        {
            "name": "t",
            "description": "t",
            "source": "t",
            "kind": "ups",
            "objects": [
                {
                    "quantity": "active_power_w",
                    "column": UPS_MIB,
                    "index": [{"label": "line"}],
                    "type": "integer",
                    "valid_max": 1e6,
                    "optional": True,
                },
                {
                    "quantity": "active_power_w",
                    "column": XUPS,
                    "index": [{"label": "line"}],
                    "type": "integer",
                    "valid_max": 1e6,
                    "optional": True,
                    "instead_of_column": UPS_MIB,
                },
                {
                    "quantity": "load_ratio",
                    "column": UPS_LOAD,
                    "index": [{"label": "line"}],
                    "type": "integer",
                    "scale": 0.01,
                    "optional": True,
                },
                {
                    "quantity": "load_ratio",
                    "oid": XUPS_LOAD,
                    "type": "integer",
                    "scale": 0.01,
                    "optional": True,
                    "instead_of_column": UPS_LOAD,
                    **fallback,
                },
            ],
        }
    )


def _rows(column: str, *values: int) -> list[SnmpValue]:
    return [SnmpValue(f"{column}.{i}", "integer", v) for i, v in enumerate(values, 1)]


def test_preferred_column_answers_so_the_fallbacks_are_not_read() -> None:
    columns = {UPS_MIB: _rows(UPS_MIB, 100, 200), XUPS: _rows(XUPS, 101, 201), UPS_LOAD: _rows(UPS_LOAD, 10)}
    scalars = {XUPS_LOAD: SnmpValue(XUPS_LOAD, "integer", 11)}
    readout = decode_objects(_profile(), scalars, columns)
    assert sorted((r.quantity, r.value) for r in readout.readings) == [
        ("active_power_w", 100.0),
        ("active_power_w", 200.0),
        ("load_ratio", 0.1),
    ]


def test_preferred_column_empty_or_null_so_the_fallbacks_are_read() -> None:
    columns = {UPS_MIB: [SnmpValue(f"{UPS_MIB}.1", "null", None)], XUPS: _rows(XUPS, 101, 201)}
    scalars = {XUPS_LOAD: SnmpValue(XUPS_LOAD, "integer", 11)}
    readout = decode_objects(_profile(), scalars, columns)
    assert sorted((r.quantity, r.value) for r in readout.readings) == [
        ("active_power_w", 101.0),
        ("active_power_w", 201.0),
        ("load_ratio", pytest.approx(0.11)),
    ]


def test_instead_of_column_must_name_another_column_of_the_profile() -> None:
    with pytest.raises(ValueError, match="instead_of_column"):
        _profile(instead_of_column="1.3.6.1.2.1.33.1.9.9")


def test_rows_the_preferred_object_does_not_read_do_not_count() -> None:
    """MGE Galaxy 7000: upsOutputPower rows indexed ``line.0`` are not rows of the UPS-MIB object (index: line)."""
    columns = {UPS_MIB: [SnmpValue(f"{UPS_MIB}.1.0", "gauge32", 2303)], XUPS: _rows(XUPS, 101)}
    readout = decode_objects(_profile(), {}, columns)
    assert [(r.quantity, r.value) for r in readout.readings] == [("active_power_w", 101.0)]
