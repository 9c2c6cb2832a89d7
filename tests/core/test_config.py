import subprocess
import sys
from pathlib import Path

import pytest

from agent.config.site import dump_config, load_config
from agent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "configs"
SECRETS = ["s3cret-community-XYZ", "s3cret-authkey-XYZ", "s3cret-privkey-XYZ"]


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_schema_errors_are_all_reported_with_file_and_path() -> None:
    problems = _problems(FIXTURES / "broken.yaml")
    text = "\n".join(problems)
    assert all(p.startswith(str(FIXTURES / "broken.yaml")) for p in problems)
    assert "colour: unknown key" in text
    assert "devices[0](meter).address" in text and "300.1.2.3" in text
    assert "credentials.v3-noproto" in text and "auth_protocol" in text
    # cross-references are reported in the same run as schema errors
    assert "unknown profile 'no-such-profile'" in text
    assert "topology.it[1].device: no device named 'ghost'" in text


def test_cross_reference_errors_are_all_reported(tmp_path: Path) -> None:
    src = (FIXTURES / "broken.yaml").read_text()
    fixed = (
        src.replace("colour: blue", "")
        .replace("300.1.2.3", "10.0.0.1")
        .replace(
            "    auth_key: s3cret-authkey-XYZ",
            "    auth_protocol: sha256\n    priv_protocol: aes128\n    auth_key: s3cret-authkey-XYZ",
        )
    )
    path = tmp_path / "site.yaml"
    path.write_text(fixed)
    text = "\n".join(_problems(path))
    assert "unknown profile 'no-such-profile'" in text
    assert "topology.it[1].device: no device named 'ghost'" in text


def test_v3_user_without_priv_protocol_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text((ROOT / "configs" / "demo-site.yaml").read_text().replace("    priv_protocol: aes128\n", ""))
    assert any("authPriv needs both priv_protocol and priv_key" in p for p in _problems(path))


def test_check_config_cli_exits_2_and_leaks_no_secret() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent.app.cli", "check-config", str(FIXTURES / "broken.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    assert "problem(s)" in out and "colour" in out
    for secret in SECRETS:
        assert secret not in out


def test_demo_config_is_valid_and_dump_masks_secrets() -> None:
    cfg, _ = load_config(ROOT / "configs" / "demo-site.yaml")
    dump = dump_config(cfg)
    assert "demo-auth-key-0001" not in dump and "demo-community-ro" not in dump
    assert "**********" in dump
    assert "demo-auth-key-0001" not in repr(cfg) and "demo-auth-key-0001" not in str(cfg)


def test_device_lookup_follows_a_copy_with_other_devices() -> None:
    """device() is a cached dict lookup; a copy with new devices (as tests and shards make) must not see the old."""
    cfg, _ = load_config(ROOT / "configs" / "twin-site.yaml")
    assert cfg.device("ups-a").port == 16202
    moved = cfg.model_copy(update={"devices": tuple(d.model_copy(update={"port": 1}) for d in cfg.devices)})
    assert moved.device("ups-a").port == 1
    assert cfg.device("ups-a").port == 16202
    with pytest.raises(KeyError):
        moved.device("no-such-device")


def test_unknown_emission_factor_is_a_config_error(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "demo-site.yaml").read_text()
    bad = tmp_path / "site.yaml"
    bad.write_text(text + "carbon:\n  emission_factor: cn-mee-2031-national\n")
    with pytest.raises(ConfigError, match=r"carbon\.emission_factor.*unknown emission factor 'cn-mee-2031-national'"):
        load_config(bad)
    bad.write_text(text + "carbon:\n  emission_factor: cn-mee-2023-southern\n")
    cfg, _ = load_config(bad)
    assert cfg.carbon is not None and cfg.carbon.emission_factor == "cn-mee-2023-southern"


def test_a_device_twice_in_one_boundary_is_refused(tmp_path: Path) -> None:
    """ups-b twice in IT would count its 40 kW twice: facility 150 kW over IT 140 kW gives a plausible-looking
    PUE of 1.07, marked valid. A device in two different boundaries' terms (e.g. a zone and IT) is fine."""
    text = (ROOT / "configs" / "demo-site.yaml").read_text()
    assert "    - {device: ups-b}\n" in text
    bad = tmp_path / "site.yaml"
    bad.write_text(text.replace("    - {device: ups-b}\n", "    - {device: ups-b}\n    - {device: ups-b}\n"))
    problems = _problems(bad)
    assert any(
        p.endswith(
            "topology.it[2].device: 'ups-b' is already topology.it[1]; a device listed twice in one boundary "
            "counts its power and energy twice"
        )
        for p in problems
    ), problems
