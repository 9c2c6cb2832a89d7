"""``instead_of``: a fallback scalar read only when the device does not answer the preferred one; and an optional
scalar answering NULL counts as absent."""

from __future__ import annotations

from typing import Any

import pytest

from agent.devices.profiles import Profile
from agent.devices.readings import decode_objects
from agent.devices.snmp.seam import SnmpValue
from agent.errors import ProfileError

HIGH = "1.3.6.1.4.1.318.1.1.1.3.3.1.0"  # PowerNet-MIB::upsHighPrecInputLineVoltage.0 (0.1 V)
ADV = "1.3.6.1.4.1.318.1.1.1.3.2.1.0"  # PowerNet-MIB::upsAdvInputLineVoltage.0 (V)


def _profile(**fallback: Any) -> Profile:
    return Profile.model_validate(
        {
            "name": "t",
            "description": "t",
            "source": "t",
            "kind": "ups",
            "objects": [
                {"quantity": "voltage_v", "oid": HIGH, "type": "gauge32", "scale": 0.1, "optional": True},
                {
                    "quantity": "voltage_v",
                    "oid": ADV,
                    "type": "gauge32",
                    "optional": True,
                    "instead_of": HIGH,
                    **fallback,
                },
            ],
        }
    )


def _scalars(**values: int | None) -> dict[str, SnmpValue]:
    out = {}
    for oid, raw in ((HIGH, values.get("high")), (ADV, values.get("adv"))):
        out[oid] = SnmpValue(oid, "no_such_object", None) if raw is None else SnmpValue(oid, "gauge32", raw)
    return out


def test_preferred_object_answers_so_the_fallback_is_not_read() -> None:
    readout = decode_objects(_profile(), _scalars(high=2331, adv=233), {})
    assert [r.value for r in readout.readings] == [pytest.approx(233.1)]


def test_preferred_object_absent_so_the_fallback_is_read() -> None:
    readout = decode_objects(_profile(), _scalars(adv=232), {})
    assert [r.value for r in readout.readings] == [232.0]
    assert readout.problems == ()


def test_neither_answers_reads_nothing() -> None:
    assert decode_objects(_profile(), _scalars(), {}).readings == ()


def test_instead_of_must_name_a_scalar_of_the_profile() -> None:
    with pytest.raises(ValueError, match="instead_of"):
        _profile(instead_of="1.3.6.1.4.1.318.1.1.1.9.9.9.0")


def test_instead_of_is_refused_on_a_table_column() -> None:
    with pytest.raises((ValueError, ProfileError), match="instead_of"):
        Profile.model_validate(
            {
                "name": "t",
                "description": "t",
                "source": "t",
                "kind": "ups",
                "objects": [
                    {"quantity": "voltage_v", "oid": HIGH, "type": "gauge32"},
                    {
                        "quantity": "voltage_v",
                        "column": "1.3.6.1.4.1.318.1.1.1.9",
                        "index": [{"label": "x"}],
                        "type": "gauge32",
                        "instead_of": HIGH,
                    },
                ],
            }
        )


def test_an_optional_scalar_answering_null_is_absent_and_a_required_one_is_a_problem() -> None:
    def profile(optional: bool) -> Profile:
        return Profile.model_validate(
            {
                "name": "t",
                "description": "t",
                "source": "t",
                "kind": "ups",
                "objects": [{"quantity": "battery_temp_c", "oid": HIGH, "type": "gauge32", "optional": optional}],
            }
        )

    null = {HIGH: SnmpValue(HIGH, "null", None)}
    assert decode_objects(profile(True), null, {}).problems == ()
    assert decode_objects(profile(True), null, {}).readings == ()
    assert len(decode_objects(profile(False), null, {}).problems) == 1
