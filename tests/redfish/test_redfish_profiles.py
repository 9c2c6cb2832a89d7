"""Redfish profiles and decoding without a socket: the schema's rules, JSON pointers, absent and null properties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.devices.profiles import Profile, load_profiles
from agent.devices.redfish.adapter import decode_resource, json_pointer
from agent.errors import RedfishProtocolError

REGISTRY = load_profiles()


def _profile(**obj: Any) -> Profile:
    base = {"quantity": "active_power_w", "redfish": {"resource": "Power", "pointer": "/A/0/B"}, "valid_max": 5000}
    return Profile.model_validate(
        {
            "name": "t",
            "description": "t",
            "source": "t",
            "kind": "server",
            "protocol": "redfish",
            "objects": [{**base, **obj}],
        }
    )


def test_the_shipped_redfish_profiles_load() -> None:
    for name in ("redfish-server-power", "redfish-server-environment", "redfish-server-psu"):
        profile = REGISTRY[name]
        assert profile.protocol == "redfish" and profile.kind == "server"
        assert all(o.redfish is not None and o.type is None for o in profile.objects)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"oid": "1.3.6.1.2.1.1.1.0"}, "takes no oid"),
        ({"type": "integer"}, "takes no type"),
        ({"writable": {"min": 1, "max": 2}}, "takes no writable"),
        ({"counter": {"wrap_raw": 100}}, "takes no counter"),
        ({"modbus": {"address": 1, "data_type": "uint16"}}, "not both"),
        ({"redfish": {"resource": "Power", "pointer": "PowerControl/0"}}, "String should match pattern"),
        ({"redfish": {"resource": "/redfish/v1/Chassis/1/Power", "pointer": "/A"}}, "String should match pattern"),
        ({"valid_max": None}, "finite 'valid_max'"),
        ({"redfish": {"resource": "PowerSubsystem/PowerSupplies/*/Metrics", "pointer": "/A"}}, "member_label go"),
        ({"redfish": {"resource": "A/*/B/*", "pointer": "/A", "member_label": "x"}}, "at most one"),
        ({"redfish": {"resource": "Power", "pointer": "/A", "member_label": "x"}}, "member_label go"),
    ],
)
def test_the_schema_refuses_what_a_redfish_object_cannot_be(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _profile(**obj)


def test_redfish_objects_only_in_redfish_profiles() -> None:
    with pytest.raises(ValueError, match="needs protocol: redfish"):
        Profile.model_validate(
            {
                "name": "t",
                "description": "t",
                "source": "t",
                "kind": "server",
                "objects": [
                    {
                        "quantity": "active_power_w",
                        "redfish": {"resource": "Power", "pointer": "/A"},
                        "valid_max": 1,
                    }
                ],
            }
        )


def test_json_pointer_follows_rfc_6901() -> None:
    body = {"PowerControl": [{"PowerConsumedWatts": 412}], "a/b": {"m~n": 1}, "list": [0, 1]}
    assert json_pointer(body, ("PowerControl", "0", "PowerConsumedWatts")) == 412
    assert json_pointer(body, ("a/b", "m~n")) == 1  # tokens come unescaped from RedfishProperty.tokens
    missing = json_pointer(body, ("PowerControl", "1", "PowerConsumedWatts"))
    assert json_pointer(body, ("list", "01")) is missing  # no leading zeros
    assert json_pointer(body, ("list", "-1")) is missing
    assert json_pointer(body, ("PowerControl", "0", "PowerConsumedWatts", "x")) is missing
    prop = _profile(redfish={"resource": "Power", "pointer": "/a~1b/m~0n"}).objects[0].redfish
    assert prop is not None and prop.tokens() == ("a/b", "m~n")


def test_a_reading_that_is_absent_null_or_not_a_number_fails_the_read() -> None:
    profile = REGISTRY["redfish-server-power"]
    objects = list(profile.objects)
    ok, bad = decode_resource("https://bmc", profile, objects, "/P", {"PowerControl": [{"PowerConsumedWatts": 350}]})
    assert [r.value for r in ok] == [350.0] and bad == []
    for body, what in (
        ({"PowerControl": [{}]}, "is absent"),
        ({"PowerControl": []}, "is absent"),
        ({"PowerControl": [{"PowerConsumedWatts": None}]}, "is null"),
        ({"PowerControl": [{"PowerConsumedWatts": "350 W"}]}, "not a number"),
        ({"PowerControl": [{"PowerConsumedWatts": True}]}, "not a number"),
    ):
        with pytest.raises(RedfishProtocolError, match=what):
            decode_resource("https://bmc", profile, objects, "/P", body)


def test_above_the_ceiling_is_one_unreadable_object_and_an_optional_one_may_be_absent() -> None:
    profile = REGISTRY["redfish-server-environment"]
    objects = list(profile.objects)
    ok, bad = decode_resource("https://bmc", profile, objects, "/E", {"PowerWatts": {"Reading": 2**31 - 1}})
    assert ok == [] and len(bad) == 1 and "above physical maximum" in bad[0].problem  # no EnergykWh: no problem
    ok, bad = decode_resource(
        "https://bmc", profile, objects, "/E", {"PowerWatts": {"Reading": 512.5}, "EnergykWh": {"Reading": 1234.5}}
    )
    got = {r.quantity: r for r in ok}
    assert got["active_power_w"].value == 512.5
    assert got["energy_j"].value == pytest.approx(1234.5 * 3.6e6)
    assert got["energy_j"].counter_modulus is None  # a JSON number does not wrap: lower is a reset
    assert got["energy_j"].counter_max_rate == 20000  # the profile's power ceiling


def test_the_docs_name_every_shipped_redfish_profile() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "protocols.md").read_text()
    for name in REGISTRY.names():
        if REGISTRY[name].protocol == "redfish":
            assert f"`{name}`" in text, name
