"""Writable setpoints are offered only where the unit has the object.

A profile's detection probe (``requires_oid``) is one of its writable setpoints, so a model of the family
without that object is not detected as writable; a writable some models lack is ``optional``, and the
actuator never sends a SET to an object the unit does not answer (``SetpointActuator.write``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from recordings import DEVICES, FIXTURES, as_fake_data, parse_snmprec

from agent.config.site import load_config
from agent.control.actuator import SetpointActuator
from agent.devices.profiles import ProfileRegistry, load_profiles
from agent.devices.snmp.adapter import SnmpDevices
from agent.devices.snmp.detect import detect_profile
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget, V2cAuth
from agent.errors import ProfileError

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_profiles()
#: pue-agent's own gateway register map: every object exists by construction (tests/twin)
OWN_REGISTER_MAPS = {"local-plant-gateway"}
WRITABLE_PROFILES = sorted(
    n for n in REGISTRY.names() if any(o.writable for o in REGISTRY[n].objects) and n not in OWN_REGISTER_MAPS
)
EXPECTED = {
    p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))["profile"]
    for p in sorted((FIXTURES / "expected").glob("*.yaml"))
}


def _detect(data: dict[str, tuple[str, int | bytes | str]], registry: ProfileRegistry) -> str | None:
    client = FakeSnmpClient(data)  # type: ignore[arg-type]
    try:
        return asyncio.run(detect_profile(client, SnmpTarget("fake", 161, V2cAuth("t")), registry)).name
    except ProfileError:  # "no profile" is an answer here
        return None


@pytest.mark.parametrize("name", WRITABLE_PROFILES)
def test_every_writable_is_the_detection_probe_or_optional(name: str) -> None:
    profile = REGISTRY[name]
    for obj in profile.objects:
        if obj.writable is not None:
            assert obj.oid == profile.detect.requires_oid or obj.optional, (
                f"{name}: writable {obj.quantity} is neither required for detection nor optional"
            )


def _probes_a_writable(name: str) -> bool:
    profile = REGISTRY[name]
    return any(o.writable is not None and o.oid == profile.detect.requires_oid for o in profile.objects)


def test_the_cooling_families_with_a_setpoint_every_model_has_probe_it() -> None:
    assert {n for n in WRITABLE_PROFILES if _probes_a_writable(n)} >= {
        "apc-airfm",
        "apc-inrow",
        "carel-pcoweb-rittal-lcp-dx",
    }


@pytest.mark.parametrize(
    "recording", sorted(r for r, p in EXPECTED.items() if p in WRITABLE_PROFILES and _probes_a_writable(p))
)
def test_a_unit_without_the_setpoint_is_never_detected_as_writable(recording: str) -> None:
    """The recording is detected by its profile; the same walk without the probed setpoint is not."""
    profile = REGISTRY[EXPECTED[recording]]
    data = as_fake_data(parse_snmprec(DEVICES / f"{recording}.snmprec"))
    assert _detect(data, REGISTRY) == profile.name
    for obj in profile.objects:
        if obj.writable is not None and not obj.optional:
            assert obj.oid in data, f"{recording}: {profile.name} needs {obj.oid}"
    probe = profile.detect.requires_oid
    assert probe is not None
    without = {oid: v for oid, v in data.items() if oid != probe}
    assert _detect(without, REGISTRY) != profile.name


def test_the_actuator_never_writes_a_setpoint_the_unit_does_not_answer() -> None:
    """An optional writable (a Liebert unit without a supply-air setpoint row): refused, no SET sent."""
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    dev = cfg.device("crah-1")
    obj = profiles[dev.profile].writable("supply_air_setpoint_c")
    assert obj is not None and obj.optional
    client = FakeSnmpClient({})
    record = asyncio.run(
        SetpointActuator(cfg, profiles, SnmpDevices(cfg, client), None).write(
            dev, "supply_air_setpoint_c", 21.0, kind="apply", reason="test"
        )
    )
    assert record.result == "refused" and client.sets == []
    client = FakeSnmpClient({obj.oid: ("integer", obj.encode(20.0))})
    record = asyncio.run(
        SetpointActuator(cfg, profiles, SnmpDevices(cfg, client), None).write(
            dev, "supply_air_setpoint_c", 21.0, kind="apply", reason="test"
        )
    )
    assert record.result == "ok" and client.sets == [(obj.oid, obj.encode(21.0))]
