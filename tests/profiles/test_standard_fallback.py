"""Standard-MIB fallback detection (``detect.fallback``, ``detect.requires_column``) and the per-row scale
features ENTITY-SENSOR-MIB needs (``scale_column``, ``decimals_negative_is_integer``).

A fallback profile (UPS-MIB, ENTITY-SENSOR-MIB) is tried only when no vendor profile detects the device,
lowest rank first, and only when the object or table it requires answers; a vendor profile always wins.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.devices.profiles import Profile, ProfileRegistry
from agent.devices.readings import decode_objects
from agent.devices.snmp.detect import detect_profile
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget, SnmpValue, V2cAuth
from agent.errors import ProfileError

SYS_OID = "1.3.6.1.2.1.1.2.0"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
VENDOR_PROBE = "1.3.6.1.4.1.99999.1.0"
STD_SCALAR = "1.3.6.1.2.1.33.1.4.1.0"
STD_COLUMN = "1.3.6.1.2.1.99.1.1.1.1"
TARGET = SnmpTarget("fake", 161, V2cAuth("public"))


def _profile(name: str, detect: dict[str, Any]) -> Profile:
    return Profile.model_validate(
        {
            "name": name,
            "description": name,
            "source": "test",
            "kind": "ups",
            "detect": detect,
            "objects": [{"quantity": "voltage_v", "oid": "1.3.6.1.4.1.99999.9.0", "type": "integer"}],
        }
    )


REGISTRY = ProfileRegistry(
    [
        _profile("vendor", {"sys_object_id_prefixes": ["1.3.6.1.4.1.99999"], "requires_oid": VENDOR_PROBE}),
        _profile("std-scalar", {"fallback": 10, "requires_oid": STD_SCALAR}),
        _profile("std-table", {"fallback": 90, "requires_column": STD_COLUMN}),
    ]
)


def _detect(data: dict[str, tuple[str, Any]], registry: ProfileRegistry = REGISTRY) -> str:
    client = FakeSnmpClient({SYS_DESCR: ("octets", b"some device"), **data})  # type: ignore[dict-item]
    return asyncio.run(detect_profile(client, TARGET, registry)).name


def test_a_vendor_profile_wins_over_every_fallback() -> None:
    assert (
        _detect(
            {
                SYS_OID: ("oid", "1.3.6.1.4.1.99999.5"),
                VENDOR_PROBE: ("integer", 1),
                STD_SCALAR: ("integer", 3),
                STD_COLUMN + ".7": ("integer", 8),
            }
        )
        == "vendor"
    )


def test_fallbacks_in_rank_order_when_no_vendor_profile_detects() -> None:
    unknown = {SYS_OID: ("oid", "1.3.6.1.4.1.12345.1")}
    assert _detect({**unknown, STD_SCALAR: ("integer", 3), STD_COLUMN + ".7": ("integer", 8)}) == "std-scalar"
    assert _detect({**unknown, STD_COLUMN + ".7": ("integer", 8)}) == "std-table"
    # the vendor's sysObjectID, but the vendor object is missing: the standard MIB still reads it
    assert _detect({SYS_OID: ("oid", "1.3.6.1.4.1.99999.5"), STD_COLUMN + ".7": ("integer", 8)}) == "std-table"


def test_nothing_answers_is_no_profile() -> None:
    with pytest.raises(ProfileError, match="no profile detects"):
        _detect({SYS_OID: ("oid", "1.3.6.1.4.1.12345.1"), "1.3.6.1.2.1.99.1.1.1.2.7": ("integer", 9)})


def test_sys_object_id_sent_as_octet_string_is_understood() -> None:
    """hpe-mapdu_pdu3 answers sysObjectID as an OCTET STRING ".1.3.6.1.4.1.232.165.11"."""
    assert _detect({SYS_OID: ("octets", b".1.3.6.1.4.1.99999.5"), VENDOR_PROBE: ("integer", 1)}) == "vendor"


def test_sync_detect_ranks_a_fallback_last_even_with_a_longer_prefix() -> None:
    registry = ProfileRegistry(
        [
            _profile("vendor", {"sys_object_id_prefixes": ["1.3.6.1.2"]}),
            _profile("std", {"fallback": 10, "sys_object_id_prefixes": ["1.3.6.1.2.1.33"], "requires_oid": STD_SCALAR}),
        ]
    )
    found = registry.detect("1.3.6.1.2.1.33", "")
    assert found is not None and found.name == "vendor"
    assert [p.name for p in registry.fallbacks()] == ["std"]


def test_a_fallback_must_say_what_answers() -> None:
    with pytest.raises(ValueError, match="requires_oid' or 'requires_column"):
        _profile("std", {"fallback": 10})


# --- per-row scale (entPhySensorScale) and signed precision (entPhySensorPrecision) ----------------
VALUE = "1.3.6.1.2.1.99.1.1.1.4"
SCALE = "1.3.6.1.2.1.99.1.1.1.2"
PRECISION = "1.3.6.1.2.1.99.1.1.1.3"


def _scaled(signed: bool = True) -> Profile:
    obj: dict[str, Any] = {
        "quantity": "active_power_w",
        "column": VALUE,
        "index": [{"label": "sensor"}],
        "type": "integer",
        "valid_max": 1e7,
        "decimals_column": PRECISION,
        "scale_column": {"column": SCALE, "factors": {8: 1e-3, 9: 1.0, 10: 1e3}},
    }
    if signed:
        obj["decimals_negative_is_integer"] = True
    return Profile.model_validate({"name": "t", "description": "t", "source": "t", "kind": "pdu", "objects": [obj]})


def _rows(*rows: tuple[int, int, int, int]) -> dict[str, list[SnmpValue]]:
    """(index, value, scale code, precision) -> walked columns."""
    return {
        VALUE: [SnmpValue(f"{VALUE}.{i}", "integer", v) for i, v, _, _ in rows],
        SCALE: [SnmpValue(f"{SCALE}.{i}", "integer", s) for i, _, s, _ in rows],
        PRECISION: [SnmpValue(f"{PRECISION}.{i}", "integer", p) for i, _, _, p in rows],
    }


def test_scale_code_and_precision_apply_per_row() -> None:
    readout = decode_objects(_scaled(), {}, _rows((1, 12345, 9, 1), (2, 2500, 10, 3), (3, 750, 8, 0), (4, 4200, 9, -2)))
    got = {r.label_dict["sensor"]: r.value for r in readout.readings}
    assert got == pytest.approx({"1": 1234.5, "2": 2500.0, "3": 0.75, "4": 4200.0})
    assert readout.problems == ()


def test_an_unknown_scale_code_is_a_problem_not_a_guess() -> None:
    readout = decode_objects(_scaled(), {}, _rows((1, 5, 17, 0), (2, 7, 9, 0)))
    assert [r.value for r in readout.readings] == [7.0]
    assert len(readout.problems) == 1 and "scale code 17" in readout.problems[0]


def test_negative_precision_stays_an_error_unless_declared() -> None:
    readout = decode_objects(_scaled(signed=False), {}, _rows((1, 4200, 9, -2)))
    assert readout.readings == () and "decimal digits" in readout.problems[0]


def test_scale_column_belongs_to_a_table() -> None:
    with pytest.raises(ValueError, match="belong to a table"):
        Profile.model_validate(
            {
                "name": "t",
                "description": "t",
                "source": "t",
                "kind": "pdu",
                "objects": [
                    {
                        "quantity": "voltage_v",
                        "oid": VALUE + ".1",
                        "type": "integer",
                        "scale_column": {"column": SCALE, "factors": {9: 1.0}},
                    }
                ],
            }
        )
