"""Every shipped profile loads, is named after its file, and uses only glossary quantities."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from agent.devices.profiles import DEFAULT_PROFILE_DIR, Profile, ProfileObject, load_profile, load_profiles
from agent.devices.quantities import GLOSSARY

PROFILE_PATHS = sorted(DEFAULT_PROFILE_DIR.glob("*.yaml"))


def test_profile_directory_is_not_empty() -> None:
    assert len(PROFILE_PATHS) >= 8


def test_registry_loads_every_profile() -> None:
    registry = load_profiles()
    assert registry.names() == sorted(p.stem for p in PROFILE_PATHS)


@pytest.fixture(params=PROFILE_PATHS, ids=lambda p: p.stem)
def profile(request: pytest.FixtureRequest) -> Profile:
    return load_profile(request.param)


def test_name_equals_file_name(profile: Profile) -> None:
    assert (DEFAULT_PROFILE_DIR / f"{profile.name}.yaml").is_file()


def test_every_quantity_is_in_the_glossary(profile: Profile) -> None:
    unknown = [obj.quantity for obj in profile.objects if obj.quantity not in GLOSSARY]
    assert unknown == []


def test_every_writable_has_bounds_inside_its_physical_range(profile: Profile) -> None:
    for obj in profile.objects:
        if obj.writable is None:
            continue
        assert obj.writable.min < obj.writable.max, obj.quantity
        assert obj.oid is not None or obj.bacnet is not None, f"{obj.quantity}: writable setpoints are scalars"
        if obj.valid_min is not None:
            assert obj.writable.min >= obj.valid_min, obj.quantity
        if obj.valid_max is not None:
            assert obj.writable.max <= obj.valid_max, obj.quantity


def test_writable_bounds_survive_the_raw_round_trip(profile: Profile) -> None:
    for obj in profile.objects:
        if obj.writable is None:
            continue
        for bound in (obj.writable.min, obj.writable.max):
            raw = obj.encode(bound)
            if obj.bacnet is not None:  # presentValue in write_resolution steps, back through the profile
                assert raw * obj.raw_scale + obj.offset == pytest.approx(bound, abs=obj.raw_scale / 2), obj.quantity
                continue
            assert obj.decode("integer", raw) == pytest.approx(bound), obj.quantity


def _exclusive(a: ProfileObject, b: ProfileObject) -> bool:
    """Two objects on one column never keep the same row: a filter on the same source with disjoint values
    (a column read once per unit: 'celsius' and 'fahrenheit' rows)."""
    for fa in a.row_filters:
        for fb in b.row_filters:
            if (fa.column, fa.oid) != (fb.column, fb.oid) or (fa.if_absent and fb.if_absent):
                continue
            if fa.equals and fb.equals and not set(fa.equals) & set(fb.equals):
                return True
            # a sensor named 'Temperature' or 'Humidity' (ServersCheck): different quantities by name
            if fa.matches and fb.matches and fa.matches != fb.matches and a.quantity != b.quantity:
                return True
    return False


def test_no_duplicate_oids(profile: Profile) -> None:
    """No scalar read twice and no table row claimed by two objects of the same quantity and labels."""
    scalars = Counter(obj.oid for obj in profile.objects if obj.oid is not None)
    twice = [oid for oid, n in scalars.items() if n > 1]
    assert [
        oid
        for oid in twice
        if any(
            not _exclusive(a, b)
            for a in profile.objects
            for b in profile.objects
            if a is not b and a.oid == b.oid == oid
        )
    ] == []
    rows: dict[tuple[object, ...], list[ProfileObject]] = {}
    for obj in profile.objects:
        if obj.column is not None:
            key = (obj.quantity, obj.column, tuple(p.equals for p in obj.index), tuple(sorted(obj.labels.items())))
            rows.setdefault(key, []).append(obj)
    claimed_twice = [
        row
        for row, objs in rows.items()
        if any(not _exclusive(a, b) for i, a in enumerate(objs) for b in objs[i + 1 :])
    ]
    assert claimed_twice == []
    table_columns = {obj.column for obj in profile.objects if obj.column is not None}
    assert not any(oid.startswith(col + ".") for oid in scalars for col in table_columns), (
        "a scalar OID lies inside a walked column"
    )


def test_counters_are_not_negative_and_scaled_to_joules_or_cubic_metres(profile: Profile) -> None:
    for obj in profile.objects:
        if obj.is_counter:
            assert obj.quantity.endswith(("_j", "_m3")), obj.quantity  # energy, or water volume
            assert obj.valid_min == 0, f"{obj.quantity}: energy and volume counters are non-negative"


def test_detection_is_declared(profile: Profile) -> None:
    detect = profile.detect
    if profile.protocol == "bacnet":
        # BACnet has no sysObjectID either: the site config names the profile (the schema refuses detect)
        assert detect == type(detect)() and profile.bacnet_settings.max_objects_per_request <= 100
        return
    if profile.protocol == "modbus":
        # Modbus has no sysObjectID to detect by: the site config names the profile (the schema refuses detect)
        assert detect == type(detect)() and profile.modbus_settings.max_span_registers <= 125
        return
    if profile.protocol == "redfish":
        # Redfish has no sysObjectID either: the site config names the profile (the schema refuses detect)
        assert detect == type(detect)() and all(o.redfish is not None for o in profile.objects)
        return
    assert detect.sys_object_id_prefixes or detect.requires_oid or detect.requires_column
    if profile.sample_sys_object_id is not None:
        assert profile.matches(profile.sample_sys_object_id, "") > 0


def test_every_modbus_register_has_a_document_comment() -> None:
    """House style for Modbus profiles: each register line names the register-map entry and its unit."""
    missing = []
    for path in PROFILE_PATHS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "modbus: {address:" in line and ("#" not in line or "(" not in line.split("#", 1)[1]):
                missing.append(f"{path.name}:{number}")
    assert missing == []


def test_every_bacnet_point_has_a_document_comment() -> None:
    """House style for BACnet profiles: each point line names the point list's object and its unit."""
    missing = []
    for path in PROFILE_PATHS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "bacnet: {object_type:" in line and ("#" not in line or "(" not in line.split("#", 1)[1]):
                missing.append(f"{path.name}:{number}")
    assert missing == []


def test_every_oid_has_a_mib_comment() -> None:
    """House style: each numeric OID in the YAML carries a `# MIB::object` comment on its line."""
    missing = []
    for path in PROFILE_PATHS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            key = line.strip().lstrip("- ").split(":", 1)[0]
            if key in ("oid", "column", "decimals_column", "requires_oid", "requires_column") and "::" not in line:
                missing.append(f"{path.name}:{number}")
    assert missing == []


def test_every_power_quantity_has_a_ceiling() -> None:
    """Issue 19: a meter answering 2^31-1 W gave PUE 16,758; every power reading is bounded by its profile.

    Read from the YAML (not through the schema, which refuses a power object without one): a missing ceiling
    is named here even if the schema check is ever loosened.
    """
    import yaml

    missing = []
    for path in PROFILE_PATHS:
        for i, obj in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["objects"]):
            q = GLOSSARY[obj["quantity"]]
            if q.is_power and not isinstance(obj.get("valid_max"), int | float):
                missing.append(f"{path.stem}: objects[{i}] {obj['quantity']}")
    assert missing == []


def test_a_power_object_without_a_ceiling_is_refused(tmp_path: Path) -> None:
    import yaml

    from agent.errors import ProfileError

    data = yaml.safe_load((DEFAULT_PROFILE_DIR / "janitza-umg.yaml").read_text(encoding="utf-8"))
    del data["objects"][0]["valid_max"]
    path = tmp_path / "janitza-umg.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    needs = r"objects\.0: .*active_power_w: a power quantity needs a finite 'valid_max'"
    with pytest.raises(ProfileError, match=needs):
        load_profile(path)


def test_counters_know_their_ceiling_power() -> None:
    registry = load_profiles()
    assert registry["janitza-umg"].rate_ceiling("energy_j") == 20e6
    assert registry["raritan-pdu2"].rate_ceiling("outlet_energy_j") == 20e3
    assert registry["local-plant-gateway"].rate_ceiling("cooling_energy_j") == 20e6


def test_a_writable_without_finite_bounds_is_refused_at_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """issue 19 #7: a profile declaring ``max: .inf`` let the agent write 500 C."""
    import subprocess
    import sys

    from agent.errors import ProfileError

    text = (DEFAULT_PROFILE_DIR / "local-plant-gateway.yaml").read_text()
    bounded = "writable: {min: 5.0, max: 18.0, step: 0.1}"
    assert bounded in text
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    bad = profiles / "unbounded-gateway.yaml"
    bad.write_text(
        text.replace("name: local-plant-gateway", "name: unbounded-gateway").replace(
            bounded, "writable: {min: 5.0, max: .inf, step: 0.1}"
        )
    )
    with pytest.raises(ProfileError) as err:
        load_profile(bad)
    assert str(bad) in str(err.value) and "writable chw_supply_setpoint_c: bounds must be finite" in str(err.value)
    for step in ("0", "-0.1", ".nan"):
        bad.write_text(
            text.replace("name: local-plant-gateway", "name: unbounded-gateway").replace(
                bounded, f"writable: {{min: 5.0, max: 18.0, step: {step}}}"
            )
        )
        with pytest.raises(ProfileError, match=r"step .* must be a positive number"):
            load_profile(bad)
    # where users meet it: check-config names the file and the object, exit 2, no traceback
    bad.write_text(
        text.replace("name: local-plant-gateway", "name: unbounded-gateway").replace(
            bounded, "writable: {min: -.inf, max: 18.0, step: 0.1}"
        )
    )
    root = DEFAULT_PROFILE_DIR.resolve().parents[1]
    site = tmp_path / "site.yaml"
    site.write_text((root / "configs" / "demo-site.yaml").read_text() + "\nprofile_dirs: [profiles]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "agent.app.cli", "check-config", str(site)], capture_output=True, text=True, timeout=60
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "unbounded-gateway.yaml" in out and "writable chw_supply_setpoint_c: bounds must be finite" in out, out
    assert "Traceback" not in out
