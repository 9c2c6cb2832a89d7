"""Modbus profiles, register decoding, batching and the site config's Modbus devices, without sockets."""

from __future__ import annotations

import asyncio
import math
import struct
from pathlib import Path

import pytest

from agent.config.site import load_config
from agent.devices.modbus.adapter import ModbusDevices, modbus_target
from agent.devices.modbus.client import FakeModbusClient
from agent.devices.modbus.registers import decode_registers, plan_reads
from agent.devices.profiles import ModbusRegister, ModbusSettings, Profile, ProfileObject, load_profiles
from agent.errors import ConfigError, DecodeError, ModbusExceptionError

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_profiles()
MODBUS_PROFILES = [REGISTRY[n] for n in REGISTRY.names() if REGISTRY[n].protocol == "modbus"]


def _reg(data_type: str, **kw: object) -> ModbusRegister:
    return ModbusRegister.model_validate({"address": 100, "data_type": data_type, **kw})


@pytest.mark.parametrize(
    ("data_type", "options", "words", "expected"),
    [
        ("float32", {}, [0x4366, 0x0000], 230.0),  # IEEE 754 230.0 = 0x43660000, high word first
        ("float32", {"word_order": "little"}, [0x0000, 0x4366], 230.0),
        ("float32", {"byte_order": "little"}, [0x6643, 0x0000], 230.0),
        ("int16", {}, [0xFFFF], -1.0),
        ("uint16", {}, [0xFFFF], 65535.0),
        ("int32", {}, [0xFFFF, 0xFFFE], -2.0),
        ("uint32", {}, [0x1234, 0x5678], float(0x12345678)),
        ("uint32", {"word_order": "little"}, [0x5678, 0x1234], float(0x12345678)),
        ("int64", {}, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], -2.0),
        ("uint64", {}, [0x0000, 0x0001, 0x0000, 0x0000], float(2**32)),
        ("int64", {"word_order": "little"}, [0x0000, 0x0000, 0x0001, 0x0000], float(2**32)),
    ],
)
def test_registers_decode_by_type_and_order(
    data_type: str, options: dict[str, str], words: list[int], expected: float
) -> None:
    assert decode_registers(_reg(data_type, **options), words) == expected


def test_a_float_nan_register_is_refused_not_read_as_a_number() -> None:
    nan = struct.unpack(">HH", struct.pack(">f", math.nan))
    obj = ProfileObject.model_validate(
        {"quantity": "active_power_w", "modbus": {"address": 0, "data_type": "float32"}, "valid_max": 1e6}
    )
    number = decode_registers(obj.modbus, list(nan))  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match="not a number"):
        obj.decode_number(number)


def test_the_wrong_number_of_registers_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="needs 2 registers"):
        decode_registers(_reg("float32"), [1])


def _obj(address: int, data_type: str = "uint16", function: str = "holding") -> ProfileObject:
    return ProfileObject.model_validate(
        {"quantity": "voltage_v", "modbus": {"address": address, "data_type": data_type, "function": function}}
    )


def test_contiguous_registers_are_one_request_and_gaps_split_them() -> None:
    objs = [_obj(10), _obj(11), _obj(12, "float32"), _obj(20), _obj(5, function="input")]
    plan = plan_reads(objs, ModbusSettings())
    assert [(r.function, r.address, r.count, len(r.objects)) for r in plan] == [
        ("holding", 10, 4, 3),
        ("holding", 20, 1, 1),
        ("input", 5, 1, 1),
    ]
    # a gap allowed by the profile joins them, the registers in between read and ignored
    plan = plan_reads(objs, ModbusSettings(max_gap_registers=6))
    assert [(r.function, r.address, r.count) for r in plan] == [("holding", 10, 11), ("input", 5, 1)]


def test_the_span_limit_splits_a_long_contiguous_map() -> None:
    objs = [_obj(a, "float32") for a in range(0, 40, 2)]
    plan = plan_reads(objs, ModbusSettings(max_span_registers=10))
    assert [(r.address, r.count) for r in plan] == [(0, 10), (10, 10), (20, 10), (30, 10)]
    assert all(r.count <= 10 for r in plan)
    assert plan_reads(objs, ModbusSettings(max_span_registers=125))[0].count == 40


def test_the_shipped_modbus_profiles_batch_into_few_requests() -> None:
    assert {p.name for p in MODBUS_PROFILES} >= {
        "janitza-umg96rm-modbus",
        "schneider-pm5300-modbus",
        "acrel-dtsd1352-modbus",
    }
    for profile in MODBUS_PROFILES:
        plan = plan_reads(profile.objects, profile.modbus_settings)
        assert len(plan) < len(profile.objects), profile.name
        assert all(r.count <= profile.modbus_settings.max_span_registers for r in plan)
        assert sum(len(r.objects) for r in plan) == len(profile.objects)
    janitza = REGISTRY["janitza-umg96rm-modbus"]
    assert len(plan_reads(janitza.objects, janitza.modbus_settings)) == 1


def _profile(objects: list[dict[str, object]], **extra: object) -> Profile:
    return Profile.model_validate(
        {
            "name": "t",
            "description": "t",
            "source": "t",
            "kind": "utility_meter",
            "protocol": "modbus",
            "objects": objects,
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({"quantity": "voltage_v", "oid": "1.3.6.1.1.0", "modbus": {"address": 1, "data_type": "uint16"}}, "SNMP"),
        ({"quantity": "active_power_w", "modbus": {"address": 1, "data_type": "uint16"}}, "valid_max"),
        ({"quantity": "voltage_v", "modbus": {"address": 65535, "data_type": "uint32"}}, "runs past"),
        ({"quantity": "voltage_v", "modbus": {"address": 1, "data_type": "float64"}}, "data_type"),
        (
            {
                "quantity": "supply_air_setpoint_c",
                "modbus": {"address": 1, "data_type": "int16"},
                "writable": {"min": 15, "max": 25, "step": 1},
            },
            "writes are not supported",
        ),
    ],
)
def test_bad_modbus_objects_are_refused(obj: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        _profile([obj])


def test_a_profile_speaks_one_protocol() -> None:
    snmp = {"quantity": "voltage_v", "oid": "1.3.6.1.1.0", "type": "integer"}
    with pytest.raises(ValueError, match="must give a 'modbus' register"):
        _profile([snmp])
    modbus = {"quantity": "voltage_v", "modbus": {"address": 1, "data_type": "uint16"}}
    with pytest.raises(ValueError, match="needs protocol: modbus"):
        _profile([modbus], protocol="snmp")
    with pytest.raises(ValueError, match="max_span_registers"):
        _profile([modbus], modbus={"max_span_registers": 200})


def test_unsigned_energy_registers_wrap_at_their_width_others_do_not() -> None:
    acrel = REGISTRY["acrel-dtsd1352-modbus"]
    energy = next(o for o in acrel.objects if o.quantity == "energy_j")
    assert energy.wrap_modulus_raw() == 2**32
    pm5300 = REGISTRY["schneider-pm5300-modbus"]
    assert next(o for o in pm5300.objects if o.quantity == "energy_j").wrap_modulus_raw() is None  # int64


def _config_text(device: str) -> str:
    return f"""
site: {{name: t}}
credentials:
  ro: {{version: 2c, community: c}}
devices:
  - {device}
  - {{name: ups, address: 127.0.0.1, credentials: ro, profile: rfc1628-ups, role: ups}}
topology:
  it_category: 1
  facility: [{{device: meter}}]
  it: [{{device: ups}}]
"""


@pytest.mark.parametrize(
    ("device", "problem"),
    [
        (
            "{name: meter, address: 10.0.0.5, profile: janitza-umg96rm-modbus, role: utility_meter, credentials: ro}",
            "speaks modbus, which has no credentials",
        ),
        ("{name: meter, address: 10.0.0.5, profile: janitza-umg, role: utility_meter}", "needs read credentials"),
        (
            "{name: meter, address: 10.0.0.5, profile: janitza-umg, role: utility_meter, credentials: ro, unit_id: 3}",
            "unit_id: belongs to a Modbus device",
        ),
        (
            "{name: meter, address: 10.0.0.5, profile: janitza-umg96rm-modbus, role: utility_meter, unit_id: 256}",
            "unit_id",
        ),
    ],
)
def test_the_config_checks_protocol_fields(tmp_path: Path, device: str, problem: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(_config_text(device))
    with pytest.raises(ConfigError, match=problem):
        load_config(path, REGISTRY)


def test_a_modbus_device_needs_no_credentials_and_defaults_to_port_502_unit_1(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        _config_text("{name: meter, address: 10.0.0.5, profile: janitza-umg96rm-modbus, role: utility_meter}")
    )
    cfg, _ = load_config(path, REGISTRY)
    target = modbus_target(cfg.device("meter"))
    assert (target.host, target.port, target.unit_id) == ("10.0.0.5", 502, 1)
    path.write_text(
        _config_text(
            "{name: meter, address: 10.0.0.5, port: 5020, unit_id: 7, profile: janitza-umg96rm-modbus, "
            "role: utility_meter}"
        )
    )
    cfg, _ = load_config(path, REGISTRY)
    target = modbus_target(cfg.device("meter"))
    assert (target.port, target.unit_id) == (5020, 7)


def test_the_adapter_decodes_batches_and_reports_bad_registers_per_object(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        _config_text(
            "{name: meter, address: 10.0.0.5, unit_id: 3, profile: acrel-dtsd1352-modbus, role: utility_meter}"
        )
    )
    cfg, _ = load_config(path, REGISTRY)
    profile = REGISTRY["acrel-dtsd1352-modbus"]
    words: dict[tuple[int, str, int], int] = {}
    for obj in profile.objects:
        assert obj.modbus is not None
        for i in range(obj.modbus.words):
            words[(3, "holding", obj.modbus.address + i)] = 0
    words[(3, "holding", 0x0000)], words[(3, "holding", 0x0001)] = 0x0001, 0x86A0  # 100 000 x 0.01 kWh
    words[(3, "holding", 0x0061)] = 2305  # 230.5 V
    words[(3, "holding", 0x016A)], words[(3, "holding", 0x016B)] = 0x7FFF, 0xFFFF  # 2^31-1 W: above valid_max
    client = FakeModbusClient(words)
    readout = asyncio.run(ModbusDevices(client).read(cfg.device("meter"), profile))
    values = {(r.quantity, r.labels): r.value for r in readout.readings}
    assert values[("energy_j", ())] == pytest.approx(1000 * 3.6e6)
    assert values[("voltage_v", (("phase", "L1"),))] == pytest.approx(230.5)
    assert ("active_power_w", ()) not in values  # refused, never read as 2.1 GW
    assert any("active_power_w" in p and "above physical maximum" in p for p in readout.problems)
    assert len(client.reads) == len(plan_reads(profile.objects, profile.modbus_settings))
    energy = next(r for r in readout.readings if r.quantity == "energy_j")
    assert energy.counter_modulus == pytest.approx(2**32 * 36000)
    # a register the meter does not have: the read fails as a whole, with the exception code
    del words[(3, "holding", 0x0077)]
    with pytest.raises(ModbusExceptionError) as err:
        asyncio.run(ModbusDevices(FakeModbusClient(words)).read(cfg.device("meter"), profile))
    assert err.value.code == 2
