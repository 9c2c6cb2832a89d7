"""Credentials: SNMPv3 authPriv in the example configs, separate write credentials, and secrets that
never reach logs, errors, metrics, the API or config dumps (the demo, check-config --dump and
failing reads are run and every output is searched for every secret of the config)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from agent.config.site import RedfishCredentials, V2cCredentials, V3Credentials, dump_config, load_config
from agent.errors import ConfigError

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port, free_udp_range, sample, scrape

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "configs").glob("*.yaml"))
EXE = Path(sys.executable).with_name("pue-agent")
STRONG_AUTH = {"sha256", "sha384", "sha512"}
STRONG_PRIV = {"aes128", "aes192", "aes256"}


def _secrets(path: Path) -> set[str]:
    data = yaml.safe_load(path.read_text())
    found = set()
    for cred in (data.get("credentials") or {}).values():
        for key in ("community", "auth_key", "priv_key", "password"):  # password: a Redfish BMC account
            if cred.get(key):
                found.add(str(cred[key]))
    for value in ((data.get("web") or {}).get("basic_auth_users") or {}).values():
        found.add(str(value))
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_configs_use_v3_authpriv_and_flag_every_v2c(path: Path) -> None:
    cfg, _ = load_config(path)
    header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
    # Modbus devices have no credentials (the protocol has none): the rules are the SNMP devices'
    v2c_used = {
        d.credentials
        for d in cfg.devices
        if d.credentials is not None and isinstance(cfg.credentials[d.credentials], V2cCredentials)
    }
    for name, cred in cfg.credentials.items():
        if isinstance(cred, V3Credentials):
            assert cred.security_level == "authPriv", f"{path.name}: {name} is not authPriv"
            assert cred.auth_protocol in STRONG_AUTH, f"{path.name}: {name} uses {cred.auth_protocol}"
            assert cred.priv_protocol in STRONG_PRIV, f"{path.name}: {name} uses {cred.priv_protocol}"
        elif isinstance(cred, RedfishCredentials):
            # a BMC account over HTTPS: the certificate verified (never verify: false in an example)
            assert cred.verify, f"{path.name}: {name} turns certificate verification off"
        else:
            # v2c only on purpose, and visibly so: named *v2c* and explained in the file's header
            assert "v2c" in name, f"{path.name}: v2c credentials {name!r} must say v2c in their name"
            assert "v2c" in header, f"{path.name}: uses v2c without saying why in its header comment"
    for dev in cfg.devices:
        if dev.write_credentials is not None:
            write = cfg.credentials[dev.write_credentials]
            assert isinstance(write, V3Credentials), f"{path.name}: {dev.name} writes over v2c"
    assert set(v2c_used) <= {n for n, c in cfg.credentials.items() if isinstance(c, V2cCredentials)}
    assert cfg.listen.address == "127.0.0.1"  # bound to localhost unless the operator says otherwise


def _write_config(
    tmp_path: Path, credentials: dict[str, Any], device_extra: dict[str, Any], web: dict[str, Any] | None = None
) -> Path:
    data: dict[str, Any] = {
        "credentials": credentials,
        "devices": [
            {
                "name": "crah-1",
                "address": "127.0.0.1",
                "credentials": "ro",
                "profile": "apc-inrow",
                "role": "cooling_unit",
                **device_extra,
            },
            {
                "name": "meter",
                "address": "127.0.0.1",
                "credentials": "ro",
                "profile": "janitza-umg",
                "role": "utility_meter",
            },
            {"name": "ups", "address": "127.0.0.1", "credentials": "ro", "profile": "rfc1628-ups", "role": "ups"},
        ],
        "topology": {"it_category": 1, "facility": [{"device": "meter"}], "it": [{"device": "ups"}]},
    }
    if web is not None:
        data["web"] = web
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _v3(user: str, key: str) -> dict[str, str]:
    return {
        "version": "3",
        "user": user,
        "auth_protocol": "sha256",
        "auth_key": f"auth-{key}",
        "priv_protocol": "aes128",
        "priv_key": f"priv-{key}",
    }


@pytest.mark.parametrize(
    "creds, extra, ok",
    [
        ({"ro": _v3("pue-ro", "secret-ro-1")}, {"write_credentials": "ro"}, False),
        ({"ro": _v3("pue", "secret-ro-1"), "rw": _v3("pue", "secret-rw-1")}, {"write_credentials": "rw"}, False),
        (
            {
                "ro": {"version": "2c", "community": "same-community"},
                "rw": {"version": "2c", "community": "same-community"},
            },
            {"write_credentials": "rw"},
            False,
        ),
        ({"ro": _v3("pue-ro", "secret-ro-1"), "rw": _v3("pue-rw", "secret-rw-1")}, {"write_credentials": "rw"}, True),
    ],
)
def test_write_credentials_must_differ_from_read_credentials(
    tmp_path: Path, creds: dict[str, Any], extra: dict[str, Any], ok: bool
) -> None:
    path = _write_config(tmp_path, creds, extra)
    if ok:
        load_config(path)
        return
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "devices[0](crah-1).write_credentials: must differ from the read credentials" in text
    assert "secret" not in text and "same-community" not in text


def test_config_errors_never_echo_secret_values(tmp_path: Path) -> None:
    creds = {
        "ro": {
            "version": "3",
            "user": "u",
            "auth_protocol": "sha256",
            "auth_key": "Xs3cr7",
            "priv_protocol": "blowfish",
            "priv_key": "PRIVATE-KEY-VALUE-9",
            "extra": "EXTRA-SECRET",
        },
        "v2": {"version": "2c", "community": ["LIST-COMMUNITY-SECRET"]},
    }
    path = _write_config(tmp_path, creds, {})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "credentials.ro.auth_key" in text and "credentials.ro.priv_protocol" in text
    assert "credentials.v2.community" in text
    for secret in ("Xs3cr7", "PRIVATE-KEY-VALUE-9", "EXTRA-SECRET", "LIST-COMMUNITY-SECRET"):
        assert secret not in text


def _fetch(url: str) -> str:
    try:
        return scrape(url)
    except urllib.error.HTTPError as err:
        with err:
            return str(err.read().decode())


@pytest.mark.e2e
def test_secrets_never_reach_outputs(tmp_path: Path) -> None:
    demo_cfg = ROOT / "configs" / "demo-site.yaml"
    secrets = set().union(*(_secrets(p) for p in EXAMPLES))
    assert len(secrets) >= 6
    outputs: dict[str, str] = {}

    for path in EXAMPLES:
        run = subprocess.run(
            [str(EXE), "check-config", str(path), "--dump"], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        assert "**********" in run.stdout
        outputs[f"dump {path.name}"] = run.stdout + run.stderr
        outputs[f"dump_config {path.name}"] = dump_config(load_config(path)[0])

    base, listen = free_udp_range(7), free_port()
    demo = subprocess.Popen(
        [
            str(EXE),
            "-v",
            "demo",
            "--site",
            "minimal",
            "--duration",
            "40",
            "--base-port",
            str(base),
            "--listen-port",
            str(listen),
            "--truth-file",
            str(tmp_path / "t.json"),
            "--history",
            str(tmp_path / "h.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{listen}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if sample(scrape(f"{url}/metrics"), "pue_device_up", device="ups-a") == 1.0:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        for route in ("/metrics", "/", "/api/v1/recommendation", "/api/v1/actions", "/api/v1/nothing"):
            outputs[f"GET {route}"] = _fetch(url + route)
        assert sample(outputs["GET /metrics"], "pue_device_up", device="ups-a") == 1.0
        # failing reads against the running demo devices: wrong v3 key, v2c against a v3 device
        reads = {
            "wrong v3 key": [
                "--v3-user",
                "pue-demo",
                "--auth-protocol",
                "sha256",
                "--auth-key",
                "demo-auth-key-0002",
                "--priv-protocol",
                "aes128",
                "--priv-key",
                "demo-priv-key-0001",
            ],
            "community on v3": ["--community", "demo-community-ro"],
        }
        for what, args in reads.items():
            run = subprocess.run(
                [
                    str(EXE),
                    "-v",
                    "read",
                    f"udp://127.0.0.1:{base + 1}",
                    "--profile",
                    "rfc1628-ups",
                    "--timeout",
                    "0.5",
                    "--retries",
                    "0",
                    *args,
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 1, (what, run.stdout, run.stderr)
            outputs[f"read {what}"] = run.stdout + run.stderr
    finally:
        demo.terminate()
        out, err = demo.communicate(timeout=30)
        print(f"--- demo (exit {demo.returncode}) ---\n{out[-2000:]}\n{err[-2000:]}")  # pytest shows it on failure
    outputs["demo stdout"], outputs["demo stderr"] = out, err
    assert "polling again" in err or "metrics at" in out

    # a failing run with a web section: bad certificate path and a plain password instead of a hash
    plain = "plain-text-password-77"
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    secrets |= {plain, hashed, "auth-secret-ro-1", "priv-secret-ro-1"}
    bad = _write_config(
        tmp_path,
        {"ro": _v3("pue-ro", "secret-ro-1")},
        {},
        web={
            "basic_auth_users": {"alice": plain, "bob": hashed},
            "tls_server_config": {"cert_file": "missing.crt", "key_file": "missing.key"},
        },
    )
    for cmd in (["check-config", str(bad)], ["check-config", str(bad), "--dump"], ["run", "--config", str(bad)]):
        run = subprocess.run([str(EXE), *cmd], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2
        outputs[" ".join(cmd)] = run.stdout + run.stderr
    assert "basic_auth_users.alice: not a bcrypt hash" in outputs[f"check-config {bad}"]

    leaks = [(where, s) for where, text in outputs.items() for s in secrets if s in text]
    assert not leaks, leaks
    assert "demo-community-ro" in demo_cfg.read_text()  # the search did look for the real values
