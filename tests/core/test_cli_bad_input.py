"""Bad input to ``check-config`` and ``run`` exits 2 with one line naming what and where, never a traceback.

Every case runs the real CLI in a subprocess, as an operator would.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cliutil import assert_bad_input
from netutil import free_port

from agent.app import cli
from agent.config.checks import cross_check
from agent.devices.profiles import load_profiles
from agent.errors import DecodeError, HistoryStoreError, ModelError
from agent.history import SqliteHistoryStore

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo-site.yaml"
EXE = str(Path(sys.executable).with_name("pue-agent"))


def _cli(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout_s)


# --- check-config ---------------------------------------------------------------------------------
def test_a_list_where_a_quantity_name_belongs_is_a_config_problem(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        DEMO.read_text().replace("    - {device: meter-main}", "    - {device: meter-main, power_quantity: [x]}")
    )
    assert_bad_input(_cli("check-config", str(path)), str(path), "topology.facility[0].power_quantity")


def test_a_config_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(DEMO.read_bytes().replace(b"name: demo-hall", b"name: demo-\xff\xfehall"))
    line = DEMO.read_text().splitlines().index("  name: demo-hall") + 1
    assert_bad_input(_cli("check-config", str(path)), f"{path}:{line}", "not UTF-8")


def test_a_config_nested_100k_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(DEMO.read_text() + "extra: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert_bad_input(_cli("check-config", str(path)), str(path), "nesting depth")


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    text = DEMO.read_text()
    first = text.splitlines().index("poll_interval_s: 2") + 1
    path.write_text(text + "poll_interval_s: 5\n")
    second = len(text.splitlines()) + 1
    assert_bad_input(
        _cli("check-config", str(path)), f"{path}:{second}", "'poll_interval_s' given twice", f"first on line {first}"
    )


def test_a_device_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(DEMO.read_text().replace("port: 16102,", "port: 16102, port: 16108,"))
    assert_bad_input(_cli("check-config", str(path)), str(path), "'port' given twice")


def _site(n: int) -> dict[str, object]:
    devices = [
        {"name": f"pdu-{i:05d}", "address": "10.0.0.1", "credentials": "ro", "profile": "apc-rpdu2", "role": "pdu"}
        for i in range(n)
    ]
    topology = {
        "it_category": 2,
        "facility": [{"device": d["name"]} for d in devices[: n // 2]],
        "it": [{"device": d["name"]} for d in devices[n // 2 :]],
    }
    devices.append(dict(devices[0]))  # one duplicate name, reported
    return {"credentials": {"ro": {"version": "2c", "community": "x"}}, "devices": devices, "topology": topology}


def test_cross_checks_grow_linearly_with_the_devices() -> None:
    profiles = load_profiles()

    def seconds(n: int) -> float:
        data = _site(n)
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            problems = cross_check(data, profiles)
            best = min(best, time.process_time() - started)
        assert problems == ["devices: device name 'pdu-00000' used more than once"]
        return best

    small, large = seconds(2_000), seconds(16_000)
    # linear: 8x the devices, about 8x the time; the old name check was quadratic (64x)
    assert large < 24 * max(small, 1e-3), (small, large)


# --- run ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("port", ["70000", "0"])
def test_run_refuses_a_listen_port_out_of_range(port: str) -> None:
    assert_bad_input(_cli("run", "--config", str(DEMO), "--duration", "1", f"--listen-port={port}"), "--listen-port")


def test_run_with_its_listen_port_taken_exits_2_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _cli("run", "--config", str(DEMO), "--duration", "5", "--listen-port", str(port))
    assert_bad_input(proc, f"127.0.0.1:{port}", "listen")


def test_run_with_a_web_config_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_bytes(b"basic_auth_users:\n  \xff\xfe: x\n")
    proc = _cli(
        "run",
        "--config",
        str(DEMO),
        "--duration",
        "1",
        "--listen-port",
        str(free_port()),
        "--web-config",
        str(web),
    )
    assert_bad_input(proc, f"{web}:2", "not UTF-8")


def test_run_with_a_read_only_history_file_exits_2_and_keeps_it(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    SqliteHistoryStore(db).close()
    db.chmod(0o444)  # the store honours the permission bits even as root
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    config = tmp_path / "site.yaml"
    config.write_text(DEMO.read_text() + f"history: {{path: {db}}}\n")
    try:
        proc = _cli("run", "--config", str(config), "--duration", "2", "--listen-port", str(free_port()))
    finally:
        db.chmod(0o644)
    assert_bad_input(proc, str(db), "read-only")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


# --- the one translation in main() -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        (PermissionError(13, "Permission denied", "/srv/pue/site.yaml"), 2, "/srv/pue/site.yaml: Permission denied"),
        (HistoryStoreError("history database h.sqlite is read-only"), 2, "history database h.sqlite is read-only"),
        (ModelError("m: not a model directory"), 2, "m: not a model directory"),
        (DecodeError("ups-a: value out of range"), 1, "ups-a: value out of range"),
    ],
)
def test_main_translates_known_errors_once_to_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception, status: int, line: str
) -> None:
    def failing(_args: object) -> int:
        raise error

    monkeypatch.setattr(cli, "cmd_check_config", failing)
    assert cli.main(["check-config", "site.yaml"]) == status
    assert capsys.readouterr().err == f"pue-agent check-config: {line}\n"


# --- the operator's first hour (issue 18): every one of these ended in a traceback or a misleading line ------------
def _site_yaml(devices: int) -> str:
    rows = "".join(
        f"  - {{name: pdu-{i:04d}, address: 10.0.{i // 256}.{i % 256}, credentials: ro, profile: apc-rpdu2, "
        "role: pdu}\n"
        for i in range(devices)
    )
    return (
        "site:\n  name: big\ncredentials:\n  ro: {version: 2c, community: public}\n"
        f"devices:\n{rows}topology:\n  it_category: 2\n  facility:\n    - {{device: pdu-0000}}\n"
        "  it:\n    - {device: pdu-0001}\n"
    )


def test_check_config_dump_into_a_pipe_closed_early_is_silent(tmp_path: Path) -> None:
    """`check-config --dump | head`: was 'pue-agent check-config: Broken pipe', exit 2, as if the config were bad."""
    config = tmp_path / "site.yaml"
    config.write_text(_site_yaml(2000))  # a dump far larger than a pipe's 64 KiB buffer
    command = [EXE, "check-config", str(config), "--dump"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().strip() == b"{"
        proc.stdout.close()  # what `head -1` does once it has its line
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 141, err  # as `cat` killed by SIGPIPE
    assert err == ""


def test_demo_with_a_missing_model_fails_before_the_site_starts(tmp_path: Path) -> None:
    """Was a traceback after the simulated site had started."""
    proc = _cli("demo", "--model", str(tmp_path / "no-model"), "--duration", "5", "--listen-port", "1")
    line = assert_bad_input(proc, "--model", "no-model", "no such model directory")
    assert line.startswith("pue-agent demo: ")
    assert "simulated site" not in proc.stdout


def test_twin_simulate_refuses_a_step_that_would_exhaust_the_memory(tmp_path: Path) -> None:
    """Was 144 M steps being allocated (killed after minutes) for a typo in --step-min."""
    proc = _cli("twin", "simulate", "--days", "1", "--step-min", "0.00001", "--out", str(tmp_path / "h.csv"))
    assert_bad_input(proc, "--step-min", "144,000,000 steps")


def test_read_of_a_host_name_no_resolver_accepts_is_one_line() -> None:
    """Was a traceback (UnicodeError: encoding with 'idna' codec failed) from inside socket.getaddrinfo."""
    host = "x" * 64 + ".example"
    proc = _cli("read", f"udp://{host}:161", "--community", "public", "--timeout", "0.5", "--retries", "0")
    assert_bad_input(proc, "pue-agent read: bad host name", host)


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """Undo what main()'s logging set-up does to this process's root logger."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = [*cli.OWN_LOGGERS, "apscheduler"]
    levels = {name: logging.getLogger(name).level for name in names}
    root.handlers.clear()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_verbose_shows_our_debug_lines_and_third_party_ones_only_at_vv(fresh_logging: None, verbose: int) -> None:
    """-v flooded the terminal with matplotlib's font search and other libraries' debug lines."""
    cli._setup_logging(verbose)
    assert logging.getLogger("agent.site.poller").isEnabledFor(logging.DEBUG) == (verbose >= 1)
    assert logging.getLogger("twin.live").isEnabledFor(logging.DEBUG) == (verbose >= 1)
    assert logging.getLogger("agent.site.poller").isEnabledFor(logging.INFO)
    assert logging.getLogger("a_library.module").isEnabledFor(logging.DEBUG) == (verbose >= 2)
    assert logging.getLogger("pysnmp").isEnabledFor(logging.INFO) == (verbose >= 2)
    assert logging.getLogger("pysnmp").isEnabledFor(logging.WARNING)


@pytest.mark.e2e
def test_run_stops_on_sigint_with_a_shutdown_line_and_status_130(tmp_path: Path) -> None:
    """Ctrl-C ended `run` silently with status 0."""
    port = free_port()
    proc = subprocess.Popen(
        [EXE, "run", "--config", str(DEMO), "--listen-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # the start-up summary, the metrics URL last
        lines.append(line)
        if line.startswith("metrics at "):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    out = "".join(lines) + out
    assert proc.returncode == 130, (out, err[-2000:])
    assert "Traceback" not in err
    assert out.count("metrics at ") == 1
    assert "site demo-hall: 7 devices" in out and "topology: PUE = facility (meter-main)" in out
    assert "pue-agent: stopped (SIGINT) after" in out
