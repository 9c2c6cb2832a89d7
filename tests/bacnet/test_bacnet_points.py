"""BACnet points without a network: the batching plan, what makes a point unreadable, the schema's refusals,
and a revert that relinquishes after a write whose read-back differs (a fake client)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.config.site import DeviceConfig, SiteConfig
from agent.control.actuator import SetpointActuator, plan_setpoint
from agent.devices.bacnet.adapter import BacnetDevices
from agent.devices.bacnet.client import BacnetTarget
from agent.devices.bacnet.points import PointAnswer, decode_point, plan_batches
from agent.devices.profiles import BacnetSettings, Profile, ProfileObject, load_profiles
from agent.devices.reader import ByProtocol
from agent.errors import DecodeError

REGISTRY = load_profiles()
PLANT = REGISTRY["carrier-19xrv-bacnet"]


def _obj(**point: Any) -> ProfileObject:
    return ProfileObject.model_validate(
        {"quantity": "supply_air_temp_c", "bacnet": {"object_type": "analog-input", "instance": 3, **point}}
    )


def test_batches_hold_at_most_the_configured_objects() -> None:
    objects = [_obj(instance=i) for i in range(1, 36)]
    sizes = [len(b.objects) for b in plan_batches(objects, BacnetSettings(max_objects_per_request=16))]
    assert sizes == [16, 16, 3]
    assert plan_batches(objects[:1], BacnetSettings())[0].specs() == [
        ("analog-input", 1, ("present-value", "status-flags", "reliability"))
    ]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (PointAnswer(None, error="object: unknown-object"), "object: unknown-object"),
        (PointAnswer(21.0, (False, True, False, False), "open-loop"), "statusFlags fault (reliability open-loop)"),
        (PointAnswer(21.0, (False, False, False, False), "unreliable-other"), "reliability unreliable-other"),
        (PointAnswer(21.0, (False, False, False, True), "no-fault-detected"), "out of service"),
        (PointAnswer(21.0, (False, False, False, False), None, "degrees-fahrenheit"), "units degrees-fahrenheit"),
        (PointAnswer(21.0, (False, False, False, False), None, None), "units not given"),
        (PointAnswer(None, (False, False, False, False), None, "degrees-celsius"), "no presentValue"),
        (PointAnswer(900.0, (False, False, False, False), None, "degrees-celsius"), "above physical maximum"),
    ],
)
def test_a_point_is_read_only_when_the_device_vouches_for_it(answer: PointAnswer, problem: str) -> None:
    obj = _obj(units="degrees-celsius").model_copy(update={"valid_max": 80.0})
    with pytest.raises(DecodeError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        decode_point(obj, answer)


def test_in_alarm_and_overridden_points_are_still_read() -> None:
    obj = _obj(units="degrees-celsius")
    assert (
        decode_point(obj, PointAnswer(21.5, (True, False, True, False), "no-fault-detected", "degrees-celsius")) == 21.5
    )


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        (
            [
                {
                    "quantity": "supply_air_temp_c",
                    "bacnet": {"object_type": "analog-input", "instance": 1},
                    "oid": "1.3.6.1",
                }
            ],
            "takes no SNMP fields",
        ),
        (
            [
                {
                    "quantity": "supply_air_setpoint_c",
                    "bacnet": {"object_type": "analog-input", "instance": 1},
                    "writable": {"min": 16, "max": 25, "step": 0.5},
                }
            ],
            "has no priority array",
        ),
        (
            [
                {
                    "quantity": "supply_air_setpoint_c",
                    "bacnet": {"object_type": "analog-value", "instance": 1},
                    "writable": {"min": 16, "max": 25},
                }
            ],
            "positive 'step'",
        ),
        (
            [
                {"quantity": "supply_air_temp_c", "bacnet": {"object_type": "analog-input", "instance": 1}},
                {"quantity": "return_air_temp_c", "bacnet": {"object_type": "analog-input", "instance": 1}},
            ],
            "read twice",
        ),
        (
            [{"quantity": "supply_air_temp_c", "oid": "1.3.6.1.4.1.1.0", "type": "integer"}],
            "must give a 'bacnet' point",
        ),
    ],
)
def test_the_schema_refuses_what_a_bacnet_profile_cannot_mean(objects: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Profile.model_validate(
            {
                "name": "x",
                "description": "x",
                "source": "x",
                "kind": "cooling_unit",
                "protocol": "bacnet",
                "objects": objects,
            }
        )


def test_a_fahrenheit_setpoint_is_planned_in_its_own_resolution() -> None:
    obj = PLANT.writable("chw_supply_setpoint_c")
    assert obj is not None
    value, raw = plan_setpoint(obj, 7.0)
    assert raw == 446  # 44.6 degF, the 0.1 degF step nearest 7.0 degC
    assert value == pytest.approx(7.0, abs=0.03)


class FakeClient:
    """A plant that takes the write but reads back something else (another priority above ours)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, int, float | None, int]] = []

    async def read(
        self, target: BacnetTarget, specs: Sequence[tuple[str, int, tuple[str, ...]]]
    ) -> dict[str, PointAnswer]:
        return {
            f"{t},{i}": PointAnswer(44.0, (False, False, False, False), "no-fault-detected", "degrees-fahrenheit")
            for t, i, _ in specs
        }

    async def write(
        self, target: BacnetTarget, object_type: str, instance: int, value: float | None, priority: int
    ) -> None:
        self.writes.append((object_type, instance, value, priority))

    async def close(self) -> None:
        return None


def test_a_write_whose_read_back_differs_is_undone_by_relinquishing(tmp_path: Path) -> None:
    device = DeviceConfig.model_validate(
        {
            "name": "plant",
            "address": "127.0.0.1",
            "profile": "carrier-19xrv-bacnet",
            "role": "chiller_plant",
            "bacnet": {"writes": True, "write_priority": 10},
        }
    )
    cfg = SiteConfig.model_construct(devices=(device,))
    client = FakeClient()
    actuator = SetpointActuator(cfg, REGISTRY, ByProtocol({"bacnet": BacnetDevices(client)}, REGISTRY), None)
    record = asyncio.run(actuator.write(device, "chw_supply_setpoint_c", 8.0, kind="apply", reason="t"))
    assert record.result == "mismatch"
    assert client.writes == [("analog-value", 24, 46.4, 10), ("analog-value", 24, None, 10)]  # NULL, not 44.0
    assert "BACnet priority 10 (available)" in record.reason


def test_a_device_without_writes_is_never_written() -> None:
    device = DeviceConfig.model_validate(
        {"name": "plant", "address": "127.0.0.1", "profile": "carrier-19xrv-bacnet", "role": "chiller_plant"}
    )
    assert not device.writes_setpoints
    cfg = SiteConfig.model_construct(devices=(device,))
    actuator = SetpointActuator(cfg, REGISTRY, ByProtocol({"bacnet": BacnetDevices(FakeClient())}, REGISTRY), None)
    assert actuator.targets("chw_supply_setpoint_c") == []
