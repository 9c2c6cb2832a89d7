"""UPS profiles on real recordings: one output, counted once, wherever a card answers two MIBs for it."""

from __future__ import annotations

import pytest
from recordings import DEVICES, parse_snmprec, split_for_profile

from agent.devices.profiles import ProfileRegistry, load_profiles
from agent.devices.readings import DeviceReadout, decode_objects


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry:
    return load_profiles()


def _read(registry: ProfileRegistry, profile: str, recording: str) -> DeviceReadout:
    p = registry[profile]
    return decode_objects(p, *split_for_profile(p, parse_snmprec(DEVICES / f"{recording}.snmprec")))


def _total(readout: DeviceReadout, quantity: str) -> float:
    return sum(r.value for r in readout.readings if r.quantity == quantity)


def test_eaton_9px_le_answers_ups_mib_and_xups_but_its_output_is_read_once(registry: ProfileRegistry) -> None:
    """upsOutputPower.1 = 360 W and xupsOutputWatts.1 = 360 W are one output: 360 W, not 720 W; the XUPS-MIB
    output energy (xupsOutputCumulativePowerUsage = 8495327 Wh) is read as joules."""
    readout = _read(registry, "mge-ups", "eaton-mgeups_9pxle")
    power = [r for r in readout.readings if r.quantity == "active_power_w"]
    assert [(r.labels, r.value) for r in power] == [((("line", "1"),), 360.0)]
    assert _total(readout, "energy_j") == pytest.approx(8495327 * 3600.0)
    assert readout.problems == ()


def test_connectups_without_ups_mib_reads_the_xups_output(registry: ProfileRegistry) -> None:
    readout = _read(registry, "eaton-xups", "eatonups")
    assert _total(readout, "active_power_w") == 231 + 944 + 882
    assert _total(readout, "input_active_power_w") == 0  # xupsInputWatts not answered by this card: absent
    assert readout.problems == ()


def test_dell_tower_reads_the_ups_mib_output_not_also_the_dell_total(registry: ProfileRegistry) -> None:
    tower = _read(registry, "dell-ups", "dell-ups_tower1000w")
    assert _total(tower, "active_power_w") == 250.0  # upsOutputPower.1, not + physicalOutputPresentConsumption
    rack = _read(registry, "dell-ups", "dell-ups_rack3750w")
    assert _total(rack, "active_power_w") == 307.0  # only the Dell object answers


def test_ups_without_watts_gets_none_made_up(registry: ProfileRegistry) -> None:
    """Galaxy 7000 (MGE-MIB: load % per phase), Socomec NetVision and WebPower (NULL) have no output W."""
    for profile, recording in (
        ("mge-ups", "apc-mgeups_galaxy7000"),
        ("socomec-ups", "socomec-ups"),
        ("webpower-ups", "webpower-smart2"),
    ):
        readout = _read(registry, profile, recording)
        assert not [r for r in readout.readings if r.quantity == "active_power_w"], recording
        assert [r for r in readout.readings if r.quantity == "load_ratio"], recording
