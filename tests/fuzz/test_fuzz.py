"""Property-based tests: whatever a device, a profile author, an operator or a CSV file throws at the
agent, it answers with its documented error (DecodeError-style problems, ProfileError, ConfigError,
HistoryFormatError), never with another exception. Each test stays within a few seconds."""

from __future__ import annotations

import math
import string
import tempfile
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config.site import load_config
from agent.control.history_io import CONDITIONS_REQUIRED_COLUMNS, read_conditions, read_site_history
from agent.devices.modbus.adapter import decode_request
from agent.devices.modbus.registers import plan_reads
from agent.devices.profiles import DEFAULT_PROFILE_DIR, load_profile, load_profiles
from agent.devices.readings import DeviceReadout, decode_objects
from agent.devices.snmp.seam import SnmpValue, ValueKind
from agent.errors import ConfigError, HistoryFormatError, ProfileError

ROOT = Path(__file__).resolve().parents[2]
PROFILES = load_profiles()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: every kind an SNMP value may have (the seam's own list, so a new kind is fuzzed too)
KINDS = list(get_args(ValueKind))
numbers = st.one_of(st.integers(-(2**31), 2**31 - 1), st.integers(0, 2**64 - 1), st.sampled_from([0, -1, 2**32 - 1]))


@st.composite
def snmp_value(draw: st.DrawFn, oid: str) -> SnmpValue:
    kind = draw(st.sampled_from(KINDS))
    value: int | bytes | str | None
    if kind in ("integer", "gauge32", "counter32", "counter64", "timeticks"):
        value = draw(numbers)
    elif kind == "octets":
        value = draw(
            st.one_of(
                st.binary(max_size=12),
                st.from_regex(r"-?\d{1,6}(\.\d{1,3})?", fullmatch=True).map(str.encode),
                st.sampled_from([b"nan", b"inf", b"-inf", b"1e308", b"1e999", b" 12 ", b""]),
            )
        )
    elif kind == "oid":
        value = draw(st.sampled_from(["1.3.6.1.4.1.318", "0.0"]))
    elif kind == "ipaddress":
        value = "10.0.0.1"
    else:
        value = None
    return SnmpValue(oid, kind, value)  # type: ignore[arg-type]


#: SNMP answers are fuzzed against the SNMP profiles (Modbus profiles: tests/modbus/test_modbus_registers.py)
SNMP_PROFILES = [n for n in PROFILES.names() if PROFILES[n].protocol == "snmp"]


@st.composite
def device_answer(draw: st.DrawFn, profile_name: str) -> tuple[dict[str, SnmpValue], dict[str, list[SnmpValue]]]:
    profile = PROFILES[profile_name]
    scalars = {}
    for oid in profile.scalar_oids:
        if draw(st.booleans()):
            scalars[oid] = draw(snmp_value(oid))
    columns: dict[str, list[SnmpValue]] = {}
    for column in profile.columns:
        rows = draw(st.lists(st.lists(st.integers(0, 10), min_size=1, max_size=4), max_size=4))
        columns[column] = [draw(snmp_value(column + "." + ".".join(map(str, r)))) for r in rows]
    return scalars, columns


@FAST
@given(st.sampled_from(SNMP_PROFILES).flatmap(lambda n: st.tuples(st.just(n), device_answer(n))))
def test_any_answer_decodes_to_readings_or_problems(case: tuple[str, Any]) -> None:
    name, (scalars, columns) = case
    readout = decode_objects(PROFILES[name], scalars, columns)
    assert isinstance(readout, DeviceReadout)
    for reading in readout.readings:
        assert isinstance(reading.value, float) and math.isfinite(reading.value), reading


MODBUS_PROFILES = [n for n in PROFILES.names() if PROFILES[n].protocol == "modbus"]


@FAST
@given(st.sampled_from(MODBUS_PROFILES), st.data())
def test_any_modbus_registers_decode_to_finite_readings_or_problems(name: str, data: st.DataObject) -> None:
    """Whatever 16-bit words a meter answers (NaN, infinities, 2^63), a reading is a finite number or a problem."""
    profile = PROFILES[name]
    for request in plan_reads(profile.objects, profile.modbus_settings):
        words = data.draw(
            st.lists(
                st.one_of(st.integers(0, 0xFFFF), st.sampled_from([0x7FC0, 0x7F80, 0xFF80, 0x7FFF, 0x8000, 0xFFFF])),
                min_size=request.count,
                max_size=request.count,
            )
        )
        readings, unreadable = decode_request(profile, request, words)
        assert len(readings) + len(unreadable) <= len(request.objects)
        for reading in readings:
            assert math.isfinite(reading.value), reading


def _mutate(draw: st.DrawFn, node: Any, depth: int = 0) -> Any:
    """Replace, drop or retype parts of a YAML tree."""
    leaf = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**20),
        st.floats(allow_nan=True),
        st.text(string.printable, max_size=12),
        st.lists(st.integers(), max_size=2),
    )
    action = draw(st.integers(0, 9))
    if action == 0:
        return draw(leaf)
    if isinstance(node, dict) and node:
        out = dict(node)
        key = draw(st.sampled_from(sorted(out, key=str)))
        if action == 1:
            del out[key]
        elif action == 2:
            out[draw(st.text(string.ascii_lowercase + "_", min_size=1, max_size=8))] = draw(leaf)
        else:
            out[key] = _mutate(draw, out[key], depth + 1)
        return out
    if isinstance(node, list) and node:
        out_list = list(node)
        i = draw(st.integers(0, len(out_list) - 1))
        if action == 1:
            del out_list[i]
        else:
            out_list[i] = _mutate(draw, out_list[i], depth + 1)
        return out_list
    return draw(leaf) if action < 5 else node


PROFILE_TREES = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(DEFAULT_PROFILE_DIR.glob("*.yaml"))}
yaml_trees = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@FAST
@given(st.data())
def test_any_profile_yaml_is_a_profile_or_a_profile_error(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(PROFILE_TREES)))
    tree = data.draw(
        st.one_of(
            st.builds(lambda: None)
            .flatmap(lambda _: st.just(PROFILE_TREES[name]))
            .map(lambda t: _mutate(data.draw, t)),
            yaml_trees,
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.yaml"
        path.write_text(yaml.safe_dump(tree) if data.draw(st.booleans()) else data.draw(st.text(max_size=200)))
        try:
            load_profile(path)
        except ProfileError as err:
            assert str(path) in str(err)


CONFIG_TREES = {p.name: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "configs").glob("*.yaml"))}


@FAST
@given(st.data())
def test_any_config_is_a_config_or_a_config_error_naming_the_file(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(CONFIG_TREES)))
    tree = CONFIG_TREES[name]
    for _ in range(data.draw(st.integers(1, 4))):
        tree = _mutate(data.draw, tree)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        text = yaml.safe_dump(tree) if data.draw(st.integers(0, 9)) else data.draw(st.text(max_size=300))
        path.write_text(text)
        try:
            load_config(path, PROFILES)
        except ConfigError as err:
            assert err.problems
            for line in err.problems:
                assert line.startswith(f"{path}"), line  # every problem names the file (and a path in it)


cells = st.one_of(
    st.text(string.printable, max_size=10),
    st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "nan", "inf", "-1", "1e400", "", "1", "true", "0"]),
)


@FAST
@given(st.data())
def test_any_csv_is_a_table_or_a_history_format_error(data: st.DataObject) -> None:
    reader = data.draw(st.sampled_from([read_conditions, read_site_history]))
    header = list(CONDITIONS_REQUIRED_COLUMNS) if reader is read_conditions else None
    if header is None or data.draw(st.booleans()):
        header = data.draw(
            st.lists(st.sampled_from([*CONDITIONS_REQUIRED_COLUMNS, "facility_power_w", "x", ""]), max_size=6)
        )
    rows = data.draw(st.lists(st.lists(cells, min_size=0, max_size=len(header) + 1), max_size=5))
    text = "\n".join(",".join(r) for r in [header, *rows])
    if data.draw(st.integers(0, 5)) == 0:
        text = data.draw(st.text(max_size=200))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            reader(path)
        except HistoryFormatError as err:
            assert str(err).startswith("history.csv") or str(path) in str(err), str(err)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([read_conditions, read_site_history]), st.binary(min_size=1, max_size=60))
def test_a_non_utf8_csv_is_a_history_format_error(reader: Any, junk: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.csv"
        path.write_bytes(b"timestamp,it_power_w\n\x80\xff" + junk)
        with pytest.raises(HistoryFormatError, match=r"history.csv:2: not UTF-8 text"):
            reader(path)


# Found by fuzzing: ProfileObject.decode divided by 10**decimals with the device's decimal-digits value
# unchecked (400 overflowed, -400 divided by zero); it now raises DecodeError outside 0..9.


@pytest.mark.parametrize(
    "decimals",
    [
        0,
        1,
        3,
        400,
        -400,
        2**32 - 1,
    ],
)
def test_any_decimal_digits_value_is_a_reading_or_a_problem(decimals: int) -> None:
    profile = PROFILES["raritan-pdu2"]
    obj = next(o for o in profile.objects if o.quantity == "active_power_w")
    assert obj.column is not None and obj.decimals_column is not None
    row = obj.instance_oid({"pdu": "1", "inlet": "1"})
    suffix = row[len(obj.column) + 1 :]
    readout = decode_objects(
        profile,
        {},
        {
            obj.column: [SnmpValue(row, "gauge32", 5000)],
            obj.decimals_column: [SnmpValue(f"{obj.decimals_column}.{suffix}", "gauge32", decimals)],
        },
    )
    assert all(math.isfinite(r.value) for r in readout.readings)
    if not 0 <= decimals <= 9:
        assert not readout.readings and "decimal digits" in readout.problems[0]


@settings(max_examples=300, deadline=None)
@given(value=st.integers(-(2**31), 2**31 - 1))
def test_strict_integer_hook_leaves_every_well_formed_integer_alone(value: int) -> None:
    """The adapter's zero-length-INTEGER mark (agent/devices/snmp/pysnmp_path.py) must not change any well-formed value:
    pyasn1's own encoding decodes to the same number, unmarked, and converts to a plain integer."""
    from pyasn1.codec.ber import decoder, encoder
    from pysnmp.proto import rfc1902

    import agent.devices.snmp.pysnmp_path as snmp

    wire = encoder.encode(rfc1902.Integer32(value))
    decoded, rest = decoder.decode(wire, asn1Spec=rfc1902.Integer32())
    assert rest == b"" and int(decoded) == value
    assert snmp._convert("1.3.6.1.2.1.1.7.0", decoded) == SnmpValue("1.3.6.1.2.1.1.7.0", "integer", value)


def test_strict_integer_hook_marks_zero_length_integer() -> None:
    from pyasn1.codec.ber import decoder
    from pysnmp.proto import rfc1902

    import agent.devices.snmp.pysnmp_path as snmp

    decoded, _ = decoder.decode(b"\x02\x00", asn1Spec=rfc1902.Integer32())
    assert int(decoded) == 0  # what pyasn1 alone makes of it
    assert snmp._convert("1.3.6.1.2.1.1.7.0", decoded).kind == "malformed"
