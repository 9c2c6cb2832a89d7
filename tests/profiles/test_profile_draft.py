"""``pue-agent profile draft`` on five real recordings whose shipped profile is taken away.

For each recording (full LibreNMS walks in ``tests/fixtures/draft/``, except Raritan's, which is the trimmed
fixture: the full walk is 345 kB) the draft, made from the walk and the MIBs in ``tests/fixtures/mibs/``
(fact extracts written for these tests: see their headers), must name the same total power and energy
objects at the same scale as the reviewed profile, and read the same totals; after its placeholders are
resolved (writable bounds filled in, as a person would), it must load, be detected in place of the
removed profile, and read the device through the real ``pue-agent read --profile FILE`` over UDP.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import assert_bad_input
from recordings import FIXTURES, as_fake_data, parse_snmprec, split_for_profile
from snmpsim_server import snmpsim

from agent.devices.profiles import Profile, ProfileRegistry, load_profile, load_profiles
from agent.devices.readings import decode_objects
from agent.devices.snmp.detect import detect_profile
from agent.devices.snmp.draft import draft_profile, read_snmprec, render_profile
from agent.devices.snmp.mibs import MibTree, load_mibs
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget, V2cAuth
from agent.errors import ProfileError

WALKS = FIXTURES / "draft"
MIBS = FIXTURES / "mibs"
PUE_AGENT = [sys.executable, "-m", "agent.app.cli"]

#: recording -> the shipped profile it stands in for, and what the draft must find
CASES: dict[str, dict[str, Any]] = {
    "apc_ap8853": {
        "removed": "apc-rpdu2",
        "power": ("1.3.6.1.4.1.318.1.1.26.4.3.1.5", 10),
        "energy": ("1.3.6.1.4.1.318.1.1.26.4.3.1.9", 360000),
    },
    "janitza_generic": {
        "removed": "janitza-umg",
        "power": ("1.3.6.1.4.1.34278.2.1.0", 1),
        "energy": ("1.3.6.1.4.1.34278.5.1.0", 360000),
    },
    "sentry4_switched8i": {
        "removed": "servertech-sentry4",
        "power": ("1.3.6.1.4.1.1718.4.1.3.3.1.3", 1),
        "energy": ("1.3.6.1.4.1.1718.4.1.3.3.1.10", 360000),
    },
    "raritan-pdu_px3": {
        "removed": "raritan-pdu2",
        "power": ("1.3.6.1.4.1.13742.6.5.2.3.1.4", 1),
        "energy": ("1.3.6.1.4.1.13742.6.5.2.3.1.4", 3600),
    },
    # a cooling unit: no power or energy; supply/return air by the rows' OBJECT IDENTIFIER, and setpoints
    "liebert_weblbds": {"removed": "liebert-gp-environmental", "power": None, "energy": None},
}
TOTALS = ("active_power_w", "energy_j", "supply_air_temp_c", "return_air_temp_c")


@pytest.fixture(scope="module")
def mibs() -> MibTree:
    tree, problems = load_mibs([MIBS])
    assert not problems
    return tree


@pytest.fixture(scope="module")
def shipped() -> ProfileRegistry:
    return load_profiles()


def _draft_text(name: str, mibs: MibTree) -> str:
    walk = read_snmprec(WALKS / f"{name}.snmprec")
    return render_profile(
        draft_profile(walk, mibs, name=f"draft-{name.replace('_', '-')}", input_note=f"recording {name}")
    )


def _resolve(text: str) -> str:
    """What the person does: fill in the placeholder bounds of writable setpoints (15-30 degC, whole degrees)."""
    return re.sub(
        r"writable: \{min: \.nan, max: \.nan, step: ([0-9.]+)\}", r"writable: {min: 15, max: 30, step: \1}", text
    )


def _save(text: str, directory: Path, name: str) -> Path:
    path = directory / f"draft-{name.replace('_', '-')}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _totals(profile: Profile, name: str) -> dict[str, float]:
    readout = decode_objects(profile, *split_for_profile(profile, parse_snmprec(WALKS / f"{name}.snmprec")))
    series = [(r.quantity, r.labels) for r in readout.readings]
    assert len(series) == len(set(series)), f"{profile.name}: two readings with the same labels"
    out: dict[str, float] = {}
    for r in readout.readings:
        if r.quantity in TOTALS:
            out[r.quantity] = out.get(r.quantity, 0.0) + r.value
    return out


def _object(profile: Profile, quantity: str) -> Any:
    found = [o for o in profile.objects if o.quantity == quantity]
    assert len(found) == 1, f"{profile.name}: {len(found)} {quantity} objects"
    return found[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_draft_finds_total_power_and_energy_at_the_right_scale(
    name: str, mibs: MibTree, shipped: ProfileRegistry, tmp_path: Path
) -> None:
    case = CASES[name]
    profile = load_profile(_save(_resolve(_draft_text(name, mibs)), tmp_path, name))
    for quantity in ("active_power_w", "energy_j"):
        expected = case["power" if quantity == "active_power_w" else "energy"]
        if expected is None:
            assert not [o for o in profile.objects if o.quantity == quantity]
            continue
        obj = _object(profile, quantity)
        assert (obj.oid or obj.column) == expected[0]
        assert obj.scale == pytest.approx(expected[1], rel=1e-12)
    reference = _totals(shipped[case["removed"]], name)
    drafted = _totals(profile, name)
    assert set(reference) <= set(drafted), (reference, drafted)
    for quantity, value in reference.items():
        assert drafted[quantity] == pytest.approx(value, rel=1e-9), quantity


def test_draft_totals_match_librenms() -> None:
    """The reviewed profiles' totals above are LibreNMS's values for the recordings: spelled out here."""
    expected = {
        "apc_ap8853": (1140, 3512.8 * 3.6e6),
        "janitza_generic": (136678, 11698878.8 * 3.6e6),
        "sentry4_switched8i": (806 + 856, None),
        "raritan-pdu_px3": (1665, 74057.676 * 3.6e6),
    }
    tree, _ = load_mibs([MIBS])
    for name, (power, energy) in expected.items():
        walk = read_snmprec(WALKS / f"{name}.snmprec")
        draft = draft_profile(walk, tree, name="x", input_note=name)
        profile = Profile.model_validate(yaml.safe_load(_resolve(render_profile(draft))))
        totals = _totals(profile, name)
        assert totals["active_power_w"] == pytest.approx(power, rel=1e-9), name
        if energy is not None:
            assert totals["energy_j"] == pytest.approx(energy, rel=1e-9), name


def test_every_object_and_guess_is_commented(mibs: MibTree) -> None:
    for name in CASES:
        text = _draft_text(name, mibs)
        objects = text.split("\n  - quantity: ")[1:]
        assert objects, name
        for block in objects:
            assert re.search(r"^    (oid|column): \S+   # \S+::\S+", block, re.M), block
            assert "\n    # " in block, block
        assert "valid_max guess" in text or CASES[name]["power"] is None
        assert re.search(r"kind: \w+   # guess", text)
        assert re.search(r"sys_object_id_prefixes: .*# guess", text)


def test_writable_setpoints_are_refused_until_bounds_are_filled_in(mibs: MibTree, tmp_path: Path) -> None:
    text = _draft_text("liebert_weblbds", mibs)
    assert text.count("writable: {min: .nan, max: .nan") == 2  # supply and return air setpoints
    assert "FILL IN" in text
    with pytest.raises(ProfileError, match="bounds must be finite"):
        load_profile(_save(text, tmp_path, "liebert_weblbds"))
    profile = load_profile(_save(_resolve(text), tmp_path, "liebert_weblbds"))
    assert {o.quantity for o in profile.objects if o.writable} == {"supply_air_setpoint_c", "return_air_setpoint_c"}
    assert _object(profile, "supply_air_setpoint_c").oid == "1.3.6.1.4.1.476.1.42.3.4.1.3.3.1.6.2"


def test_measurements_the_mib_declares_read_write_are_not_writable(mibs: MibTree, tmp_path: Path) -> None:
    """JANITZA-MIB declares every object read-write; a meter reading is still no setpoint."""
    text = _draft_text("janitza_generic", mibs)
    assert "writable" not in text.replace("not offered as writable", "")
    assert "the MIB declares it read-write, but it is a measurement" in text


def test_the_draft_is_detected_in_place_of_the_removed_profile(
    mibs: MibTree, shipped: ProfileRegistry, tmp_path: Path
) -> None:
    for name, case in CASES.items():
        draft = load_profile(_save(_resolve(_draft_text(name, mibs)), tmp_path, name))
        others = [shipped[n] for n in shipped.names() if n != case["removed"]]
        registry = ProfileRegistry([*others, draft])
        client = FakeSnmpClient(as_fake_data(parse_snmprec(WALKS / f"{name}.snmprec")))  # type: ignore[arg-type]
        detected = asyncio.run(detect_profile(client, SnmpTarget("fake", 161, V2cAuth(name)), registry))
        assert detected.name == draft.name, name


def test_without_mibs_it_still_drafts_with_every_guess_commented(tmp_path: Path) -> None:
    walk = read_snmprec(WALKS / "janitza_generic.snmprec")
    text = render_profile(draft_profile(walk, MibTree(()), name="draft-janitza", input_note="recording"))
    assert "MIBs used: none" in text
    assert "1.3.6.1.4.1.34278.1.1.0 = 2301 (integer): voltage_v in 0.1 V" in text
    assert "1.3.6.1.4.1.34278.8.1.0 = 5002 (integer): frequency_hz in 0.01 Hz" in text
    load_profile(_save(text, tmp_path, "janitza"))  # loads: nothing it proposes is refused


# --- the command line, and the real read path over UDP -----------------------------------------
@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with snmpsim([WALKS / f"{name}.snmprec" for name in sorted(CASES)]) as udp_port:
        yield udp_port


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PUE_AGENT, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(CASES))
def test_resolved_draft_reads_the_device_over_udp(
    name: str, port: int, mibs: MibTree, shipped: ProfileRegistry, tmp_path: Path
) -> None:
    path = _save(_resolve(_draft_text(name, mibs)), tmp_path, name)
    proc = _run(
        "read",
        f"udp://127.0.0.1:{port}",
        "--community",
        name,
        "--profile",
        str(path),
        "--format",
        "json",
        "--timeout",
        "5",
        "--retries",
        "2",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    answer = json.loads(proc.stdout)
    assert answer["profile"] == path.stem
    totals: dict[str, float] = {}
    for row in answer["readings"]:
        if row["quantity"] in TOTALS:
            totals[row["quantity"]] = totals.get(row["quantity"], 0.0) + row["value"]
    reference = _totals(shipped[CASES[name]["removed"]], name)
    assert reference and set(reference) <= set(totals)
    for quantity, value in reference.items():
        assert math.isclose(totals[quantity], value, rel_tol=1e-9), (quantity, totals[quantity], value)


@pytest.mark.e2e
def test_cli_drafts_from_a_live_walk_and_refuses_to_overwrite(port: int, tmp_path: Path) -> None:
    out = tmp_path / "apc-draft.yaml"
    args = [
        "profile",
        "draft",
        "--address",
        f"127.0.0.1:{port}",
        "--community",
        "apc_ap8853",
        "--mib-dir",
        str(MIBS),
        "--out",
        str(out),
        "--timeout",
        "5",
    ]
    proc = _run(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"wrote {out}" in proc.stdout
    assert "5 object(s) proposed" in proc.stderr or "object(s) proposed" in proc.stderr
    profile = load_profile(out)
    power = _object(profile, "active_power_w")
    assert (power.column, power.scale) == ("1.3.6.1.4.1.318.1.1.26.4.3.1.5", 10)
    assert profile.detect.sys_object_id_prefixes == ("1.3.6.1.4.1.318.1.3.4.6",)
    before = out.read_text(encoding="utf-8")
    assert_bad_input(_run(*args), "exists", "--force")
    assert out.read_text(encoding="utf-8") == before
    assert _run(*args, "--force").returncode == 0


def test_cli_bad_input() -> None:
    assert_bad_input(_run("profile", "draft"), "--address", "--snmprec")
    assert_bad_input(_run("profile", "draft", "--snmprec", "/nonexistent.snmprec"), "/nonexistent.snmprec")
    assert_bad_input(
        _run("profile", "draft", "--snmprec", str(WALKS / "apc_ap8853.snmprec"), "--out", "/tmp/Bad Name.yaml"),
        "profile file is named",
    )


V3 = ("pue-draft", "draft-auth-key-0001", "draft-priv-key-0001")


@pytest.mark.e2e
def test_cli_drafts_over_snmpv3_authpriv_as_over_v2c(tmp_path: Path) -> None:
    with snmpsim([WALKS / "apc_ap8853.snmprec"], v3_user=V3[0], v3_auth_key=V3[1], v3_priv_key=V3[2]) as v3_port:
        common = ["profile", "draft", "--address", f"127.0.0.1:{v3_port}", "--mib-dir", str(MIBS), "--timeout", "5"]
        v2c = _run(*common, "--community", "apc_ap8853", "--out", str(tmp_path / "v2c.yaml"))
        # snmpsim selects the recording of a v3 request by its context name
        v3 = _run(
            *common,
            "--v3-user",
            V3[0],
            "--auth-protocol",
            "sha256",
            "--auth-key",
            V3[1],
            "--priv-protocol",
            "aes128",
            "--priv-key",
            V3[2],
            "--v3-context",
            "apc_ap8853",
            "--out",
            str(tmp_path / "v3.yaml"),
        )
    assert v2c.returncode == 0 and v3.returncode == 0, v2c.stderr[-1500:] + v3.stderr[-1500:]
    for secret in V3[1:]:
        assert secret not in v3.stdout + v3.stderr + (tmp_path / "v3.yaml").read_text(encoding="utf-8")
    drafts = [
        (tmp_path / f).read_text(encoding="utf-8").replace(f"name: {Path(f).stem}", "") for f in ("v2c.yaml", "v3.yaml")
    ]
    assert drafts[0] == drafts[1]
    assert "rPDU2DeviceStatusPower" in drafts[1]


@pytest.mark.parametrize(
    ("family", "units", "description", "hint", "scale"),
    [
        ("temperature", "degrees Celsius", "", "d-1", 0.1),  # a plain unit and a DISPLAY-HINT
        ("temperature", "", "temperature in tenths of degrees Celsius", "", 0.1),
        ("setpoint", ".1 degrees Celsius", "", "", 0.1),  # LIEBERT-GP style UNITS
        ("voltage", "", "Voltage Phase L1 in 100mV", "", 0.1),  # JANITZA-MIB
        ("current", "", "Current Phase L1  in 1mA", "", 0.001),
        ("energy", "", "Active Energie Summe L1..L3 in 0.1 KWh", "", 360000),
        ("energy", "Wh", "", "", 3600),
        ("power", "", "load in hundredths of kilowatts", "", 10),
        ("power", "kW", "", "d-2", 10),
        ("frequency", "tenth Hertz", "", "", 0.1),
        ("humidity", "percent", "", "", 0.01),
    ],
)
def test_scale_from_units_description_and_display_hint(
    family: str, units: str, description: str, hint: str, scale: float
) -> None:
    from agent.devices.snmp.draft import find_scale
    from agent.devices.snmp.mibs import MibNode

    node = MibNode("M", "x", "1.3.6.1.4.1.1.1", "scalar", units=units, description=description, display_hint=hint)
    found = find_scale(family, node)
    assert found.certain
    assert found.scale == pytest.approx(scale, rel=1e-12)


def test_fahrenheit_is_converted() -> None:
    from agent.devices.snmp.draft import find_scale
    from agent.devices.snmp.mibs import MibNode

    found = find_scale("temperature", MibNode("M", "t", "1.3.6.1.4.1.1.1", "scalar", units="degrees Fahrenheit"))
    assert 212 * found.scale + found.offset == pytest.approx(100)
    assert 32 * found.scale + found.offset == pytest.approx(0)


def test_a_large_mib_collection_is_narrowed_to_the_device_vendor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.devices.snmp.mibs

    for folder, module in (("janitza", "JANITZA-MIB"), ("apc", "PowerNet-MIB"), ("raritan", "PDU2-MIB")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / f"{module}.my").write_text((MIBS / module).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(agent.devices.snmp.mibs, "NARROW_ABOVE", 1)
    tree, problems = load_mibs([tmp_path], enterprises={34278, 9})
    assert (tree.modules, problems) == (("JANITZA-MIB",), [])
    everything, _ = load_mibs([tmp_path])
    assert everything.modules == ("JANITZA-MIB", "PDU2-MIB", "PowerNet-MIB")


def test_only_the_mib_module_imports_pysmi() -> None:
    agent_dir = Path(__file__).resolve().parents[2] / "agent"
    importers = {
        p.relative_to(agent_dir).as_posix()
        for p in agent_dir.rglob("*.py")
        if re.search(r"^\s*(from|import) pysmi\b", p.read_text(encoding="utf-8"), re.M)
    }
    assert importers == {"devices/snmp/mibs.py"}
