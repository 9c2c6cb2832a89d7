"""``extends``: a vendor profile inherits a standard one's objects and redefines some of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.devices.profiles import load_profile
from agent.errors import ProfileError

BASE = """\
name: base-ups
description: a standard MIB
source: test
kind: ups
detect: {requires_oid: 1.3.6.1.2.1.33.1.4.1.0}      # UPS-MIB::upsOutputSource.0
objects:
  - quantity: voltage_v
    column: 1.3.6.1.2.1.33.1.4.4.1.2                 # UPS-MIB::upsOutputVoltage
    index: [{label: line}]
    type: integer
  - quantity: battery_temp_c
    oid: 1.3.6.1.2.1.33.1.2.7.0                      # UPS-MIB::upsBatteryTemperature.0
    type: integer
"""

VENDOR = """\
name: vendor-ups
description: a vendor card that sends tenths of volts
source: test
kind: ups
extends: {base}
detect: {{sys_object_id_prefixes: ["1.3.6.1.4.1.99999"]}}
objects:
  - quantity: voltage_v
    column: 1.3.6.1.2.1.33.1.4.4.1.2                 # UPS-MIB::upsOutputVoltage
    index: [{{label: line}}]
    type: integer
    scale: 0.1
  - quantity: ambient_temp_c
    oid: 1.3.6.1.4.1.99999.1.0                       # VENDOR-MIB::ambient.0
    type: integer
"""

#: the vendor profile's ambient object as VENDOR writes it
AMBIENT = "  - quantity: ambient_temp_c\n    oid: 1.3.6.1.4.1.99999.1.0                       # VENDOR-MIB::ambient.0\n"


def _write(tmp_path: Path, base: str = "base-ups") -> Path:
    (tmp_path / "base-ups.yaml").write_text(BASE, encoding="utf-8")
    path = tmp_path / "vendor-ups.yaml"
    path.write_text(VENDOR.format(base=base), encoding="utf-8")
    return path


def test_inherits_base_objects_and_redefines_by_oid(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path))
    by_quantity = {obj.quantity: obj for obj in profile.objects}
    assert [obj.quantity for obj in profile.objects] == ["battery_temp_c", "voltage_v", "ambient_temp_c"]
    assert by_quantity["voltage_v"].scale == 0.1  # the vendor's, not the base's 1.0
    assert by_quantity["battery_temp_c"].oid == "1.3.6.1.2.1.33.1.2.7.0"
    # detection is the vendor's own: the base's requires_oid is not inherited
    assert profile.detect.requires_oid is None
    assert profile.matches("1.3.6.1.4.1.99999.5", "") > 0


def test_unknown_base_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="extends unknown profile 'no-such-profile'"):
        load_profile(_write(tmp_path, base="no-such-profile"))


def test_a_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "base-ups.yaml").write_text(
        BASE.replace("kind: ups\n", "kind: ups\nextends: vendor-ups\n"), encoding="utf-8"
    )
    path = tmp_path / "vendor-ups.yaml"
    path.write_text(VENDOR.format(base="base-ups"), encoding="utf-8")
    with pytest.raises(ProfileError, match="'extends' loops: vendor-ups -> base-ups -> vendor-ups"):
        load_profile(path)


def test_shipped_profiles_extend_rfc1628_without_duplicates() -> None:
    """Every shipped vendor UPS profile that extends the UPS-MIB one still reads each OID once."""
    from agent.devices.profiles import DEFAULT_PROFILE_DIR

    for path in sorted(DEFAULT_PROFILE_DIR.glob("*.yaml")):
        profile = load_profile(path)
        if profile.extends is None:
            continue  # the docstring's scope: profiles that extend another
        keys = [
            (obj.oid, obj.column, tuple(p.equals for p in obj.index), tuple(sorted(obj.labels.items())))
            for obj in profile.objects
        ]
        assert len(keys) == len(set(keys)), path.name


def test_a_fallback_may_name_an_inherited_object(tmp_path: Path) -> None:
    (tmp_path / "base-ups.yaml").write_text(BASE, encoding="utf-8")
    path = tmp_path / "vendor-ups.yaml"
    path.write_text(
        VENDOR.format(base="base-ups").replace(
            "    scale: 0.1\n",
            "    scale: 0.1\n    instead_of_column: 1.3.6.1.2.1.33.1.9.9          # UPS-MIB::nothing\n",
        ),
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match="instead_of_column"):
        load_profile(path)  # names no column of the merged profile
    path.write_text(
        VENDOR.format(base="base-ups")
        .replace('    type: integer\n"""', "")
        .replace(
            AMBIENT,
            AMBIENT + "    instead_of: 1.3.6.1.2.1.33.1.2.7.0              # UPS-MIB::upsBatteryTemperature.0\n",
        ),
        encoding="utf-8",
    )
    profile = load_profile(path)  # the inherited battery temperature is a scalar of the merged profile
    assert any(obj.instead_of == "1.3.6.1.2.1.33.1.2.7.0" for obj in profile.objects)
