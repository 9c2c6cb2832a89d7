"""``unit_suffix``: string numbers that carry their unit ('0.061kW', APC Easy PDU EPDU1132M agent)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.devices.profiles import ProfileObject
from agent.errors import DecodeError


def _obj(**kw: object) -> ProfileObject:
    base: dict[str, object] = {
        "quantity": "active_power_w",
        "oid": "1.3.6.1.4.1.1.1.3.1",
        "type": "string_number",
        "unit_suffix": "kW",
        "scale": 1000,
        "valid_min": 0,
        "valid_max": 50000,
    }
    base.update(kw)
    return ProfileObject.model_validate(base)


def test_the_unit_is_stripped_before_the_scale() -> None:
    assert _obj().decode("octets", b"0.061kW") == pytest.approx(61.0)
    assert _obj().decode("octets", b" 2.5 kW ") == pytest.approx(2500.0)


def test_a_value_without_the_declared_unit_is_refused() -> None:
    with pytest.raises(DecodeError, match="does not end in the unit"):
        _obj().decode("octets", b"61W")  # a different unit must never be read with kW's scale
    with pytest.raises(DecodeError, match="does not end in the unit"):
        _obj().decode("octets", b"0.061")
    with pytest.raises(DecodeError, match="not a number"):
        _obj().decode("octets", b"-kW")


def test_only_for_string_numbers() -> None:
    with pytest.raises(ValidationError, match="unit_suffix"):
        _obj(type="integer")


def test_apc_easy_pdu_text_agent_reads_its_recording() -> None:
    """EPDU1132M (tests/fixtures/devices/apc-epdu_epdu1132m.snmprec): '0.061kW', '2.28kWh', '232.6V', '0.30A'."""
    from recordings import DEVICES, parse_snmprec, split_for_profile

    from agent.devices.profiles import load_profiles
    from agent.devices.readings import decode_objects

    profile = load_profiles()["apc-epdu-text"]
    readout = decode_objects(
        profile, *split_for_profile(profile, parse_snmprec(DEVICES / "apc-epdu_epdu1132m.snmprec"))
    )
    got = {r.quantity: r.value for r in readout.readings}
    assert readout.problems == ()
    assert got == pytest.approx(
        {
            "active_power_w": 61.0,
            "energy_j": 2.28 * 3.6e6,
            "voltage_v": 232.6,
            "current_a": 0.30,
            "frequency_hz": 49.982,
        }
    )
