"""``row_filter`` variants: text in a unit column, one scalar for every row, and ``if_absent``.

Environmental monitors name a probe's unit in a string column (Webmon, Algcom: "Fahrenheit") or in one
device-wide scalar (PowerNet-MIB emsStatusSysTempUnits); a profile reads the same column twice, once per
unit, and the filter keeps each row in exactly one of the two.
"""

from __future__ import annotations

import pytest

from agent.devices.profiles import Profile
from agent.devices.readings import decode_objects
from agent.devices.snmp.seam import SnmpValue

VALUE = "1.3.6.1.4.1.99999.1.1.3"
UNIT = "1.3.6.1.4.1.99999.1.1.4"
SYS_UNIT = "1.3.6.1.4.1.99999.2.0"


def _profile(celsius: object, fahrenheit: object, scalar: bool = False) -> Profile:
    base: dict[str, object] = {"quantity": "ambient_temp_c", "type": "string_number"}
    if scalar:
        base["oid"] = VALUE + ".1"
    else:
        base |= {"column": VALUE, "index": [{"label": "probe"}]}
    return Profile.model_validate(
        {
            "name": "t",
            "description": "t",
            "source": "t",
            "kind": "environment_sensor",
            "objects": [
                {**base, "row_filter": celsius},
                {**base, "scale": 5 / 9, "offset": -160 / 9, "row_filter": fahrenheit},
            ],
        }
    )


def _octets(oid: str, text: str) -> SnmpValue:
    return SnmpValue(oid, "octets", text.encode())


def test_text_unit_column_selects_the_conversion_per_row() -> None:
    profile = _profile({"column": UNIT, "equals": ["Celsius"]}, {"column": UNIT, "equals": ["Fahrenheit"]})
    columns = {
        VALUE: [_octets(VALUE + ".1", "21.5"), _octets(VALUE + ".2", "68.0"), _octets(VALUE + ".3", "40")],
        UNIT: [_octets(UNIT + ".1", "Celsius"), _octets(UNIT + ".2", " Fahrenheit "), _octets(UNIT + ".3", "%")],
    }
    readout = decode_objects(profile, {}, columns)
    values = {r.label_dict["probe"]: r.value for r in readout.readings}
    assert values == pytest.approx({"1": 21.5, "2": 20.0})  # row 3 (a humidity unit) is neither: dropped
    assert readout.problems == ()


def test_integer_filter_never_matches_text() -> None:
    profile = _profile({"column": UNIT, "equals": [1]}, {"column": UNIT, "equals": [2]})
    columns = {VALUE: [_octets(VALUE + ".1", "21.5")], UNIT: [_octets(UNIT + ".1", "1")]}
    assert decode_objects(profile, {}, columns).readings == ()


@pytest.mark.parametrize(("unit", "expected"), [(1, 21.5), (2, (21.5 - 32) * 5 / 9)])
def test_one_scalar_selects_the_conversion_for_every_row(unit: int, expected: float) -> None:
    profile = _profile({"oid": SYS_UNIT, "equals": [1], "if_absent": True}, {"oid": SYS_UNIT, "equals": [2]})
    assert SYS_UNIT in profile.scalar_oids
    scalars = {SYS_UNIT: SnmpValue(SYS_UNIT, "integer", unit)}
    readout = decode_objects(profile, scalars, {VALUE: [_octets(VALUE + ".1", "21.5")]})
    assert [r.value for r in readout.readings] == pytest.approx([expected])
    assert readout.problems == ()


def test_if_absent_keeps_only_the_objects_that_ask_for_it() -> None:
    profile = _profile({"oid": SYS_UNIT, "equals": [1], "if_absent": True}, {"oid": SYS_UNIT, "equals": [2]})
    scalars = {SYS_UNIT: SnmpValue(SYS_UNIT, "no_such_object", None)}
    readout = decode_objects(profile, scalars, {VALUE: [_octets(VALUE + ".1", "21.5")]})
    assert [r.value for r in readout.readings] == [21.5]


def test_scalar_object_takes_a_scalar_filter() -> None:
    profile = _profile({"oid": SYS_UNIT, "equals": [1]}, {"oid": SYS_UNIT, "equals": [2]}, scalar=True)
    scalars = {SYS_UNIT: SnmpValue(SYS_UNIT, "integer", 2), VALUE + ".1": _octets(VALUE + ".1", "50")}
    readout = decode_objects(profile, scalars, {})
    assert [r.value for r in readout.readings] == pytest.approx([10.0])
    assert readout.problems == ()  # the Celsius object, filtered out, is not "not present"


def test_a_filter_names_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one of 'column'"):
        _profile({"column": UNIT, "oid": SYS_UNIT, "equals": [1]}, {"oid": SYS_UNIT, "equals": [2]})
    with pytest.raises(ValueError, match="scalar takes 'oid'"):
        _profile({"column": UNIT, "equals": [1]}, {"oid": SYS_UNIT, "equals": [2]}, scalar=True)


def test_a_list_of_filters_must_all_keep_the_row() -> None:
    online = "1.3.6.1.4.1.99999.1.1.5"
    profile = _profile(
        [{"column": UNIT, "equals": [1]}, {"column": online, "equals": [1]}],
        [{"column": UNIT, "equals": [0]}, {"column": online, "equals": [1]}],
    )
    assert online in profile.columns
    columns = {
        VALUE: [_octets(VALUE + f".{i}", raw) for i, raw in ((1, "21.5"), (2, "68"), (3, "0"))],
        UNIT: [SnmpValue(UNIT + f".{i}", "integer", unit) for i, unit in ((1, 1), (2, 0), (3, 0))],
        online: [SnmpValue(online + f".{i}", "integer", state) for i, state in ((1, 1), (2, 1), (3, 2))],
    }
    readout = decode_objects(profile, {}, columns)
    values = {r.label_dict["probe"]: r.value for r in readout.readings}
    assert values == pytest.approx({"1": 21.5, "2": 20.0})  # probe 3 is offline: neither object reads it


def test_no_value_sentinels_skip_the_row_without_a_problem() -> None:
    profile = Profile.model_validate(
        {
            "name": "t",
            "description": "t",
            "source": "t",
            "kind": "environment_sensor",
            "objects": [
                {
                    "quantity": "relative_humidity_ratio",
                    "column": VALUE,
                    "index": [{"label": "probe"}],
                    "type": "integer",
                    "scale": 0.01,
                    "valid_min": 0,
                    "valid_max": 1,
                    "no_value": [-1],
                },
                {"quantity": "ambient_temp_c", "oid": UNIT + ".1", "type": "string_number", "no_value": [-999.9]},
            ],
        }
    )
    columns = {VALUE: [SnmpValue(VALUE + ".1", "integer", 36), SnmpValue(VALUE + ".2", "integer", -1)]}
    readout = decode_objects(profile, {UNIT + ".1": _octets(UNIT + ".1", "-999.9")}, columns)
    assert [(r.quantity, r.value) for r in readout.readings] == [("relative_humidity_ratio", 0.36)]
    assert readout.problems == ()
    # any other out-of-range value is still a problem, not silently dropped
    columns = {VALUE: [SnmpValue(VALUE + ".1", "integer", -2)]}
    assert len(decode_objects(profile, {}, columns).problems) == 2  # -2 %RH, and the absent scalar


def test_matches_tests_a_name_by_regular_expression() -> None:
    name = "1.3.6.1.4.1.99999.3.1.0"
    profile = _profile({"oid": name, "matches": "(?i)temp"}, {"oid": name, "matches": "(?i)fahrenheit"}, scalar=True)
    value = {VALUE + ".1": _octets(VALUE + ".1", "26.44")}
    readout = decode_objects(profile, {**value, name: _octets(name, "X105Y013 back Temp")}, {})
    assert [r.value for r in readout.readings] == [26.44]
    readout = decode_objects(profile, {**value, name: _octets(name, "Ping GW")}, {})
    assert readout.readings == () and readout.problems == ()
    with pytest.raises(ValueError, match="exactly one of 'equals'"):
        _profile({"oid": name, "matches": "t", "equals": [1]}, {"oid": name, "equals": [2]}, scalar=True)


def test_string_index_part_reads_a_length_prefixed_text_and_round_trips() -> None:
    name = "1.3.6.1.4.1.99999.4"
    profile = Profile.model_validate(
        {
            "name": "t",
            "description": "t",
            "source": "t",
            "kind": "environment_sensor",
            "objects": [
                {
                    "quantity": "ambient_temp_c",
                    "column": VALUE,
                    "index": [{"label": "sensor", "string": True}],
                    "type": "integer",
                    "scale": 0.01,
                    "row_filter": {"column": name, "equals": ["Temperature"]},
                }
            ],
        }
    )
    obj = profile.objects[0]
    sensor = "TH-2A_1_0"
    suffix = ".".join([str(len(sensor)), *(str(ord(c)) for c in sensor)])
    assert obj.match_index(tuple(int(p) for p in suffix.split("."))) == {"sensor": sensor}
    assert obj.instance_oid({"sensor": sensor}) == f"{VALUE}.{suffix}"
    assert obj.match_index((3, 65, 66)) is None  # the length does not match the rest
    columns = {
        VALUE: [SnmpValue(f"{VALUE}.{suffix}", "integer", 2136), SnmpValue(f"{VALUE}.1.66", "integer", 5)],
        name: [_octets(f"{name}.{suffix}", "Temperature"), _octets(f"{name}.1.66", "Humidity")],
    }
    readout = decode_objects(profile, {}, columns)
    assert [(r.label_dict, r.value) for r in readout.readings] == [({"sensor": sensor}, 21.36)]
    with pytest.raises(ValueError, match="must be the last one"):
        Profile.model_validate(
            {
                "name": "t",
                "description": "t",
                "source": "t",
                "kind": "environment_sensor",
                "objects": [
                    {
                        "quantity": "ambient_temp_c",
                        "column": VALUE,
                        "type": "integer",
                        "index": [{"label": "s", "string": True}, {"equals": 0}],
                    }
                ],
            }
        )
