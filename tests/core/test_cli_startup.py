"""The command line starts fast: building its parser loads none of the heavy libraries (bench/cli.py times it).

Each check runs a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import get_args

#: what no `pue-agent --help`, `--version` or `check-config` needs (seconds of import between them)
HEAVY = ("sklearn", "matplotlib", "pysnmp", "pysmi", "scipy", "numpy", "apscheduler", "prometheus_client", "skops")


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.splitlines()[-1]))


def _loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(packages))


def test_building_the_parser_imports_no_heavy_library() -> None:
    """Every feature's sub-commands (model, history, onboarding, the twin's demo) are registered here too."""
    modules = _modules_after("from agent.app.cli import build_parser\nbuild_parser()")
    assert "twin.demo" in modules and "agent.app.model_cli" in modules  # the probe saw the whole parser
    assert _loaded(modules, HEAVY) == []
    # the config's pydantic models load for the commands that read a config, not for --help
    assert "pydantic" not in {m.split(".")[0] for m in modules}


def test_check_config_loads_no_model_plot_or_snmp_library() -> None:
    modules = _modules_after(
        "import contextlib, io\nfrom agent.app.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['check-config', 'configs/demo-site.yaml']) == 0"
    )
    assert "agent.config.site" in modules
    assert _loaded(modules, HEAVY) == []


def test_read_over_v2c_does_not_load_pysnmp() -> None:
    """v2c GETs take the fast path (agent/devices/snmp/fastpath.py): pysnmp loads only for what it alone serves."""
    modules = _modules_after(
        "import contextlib, io, socket\nfrom agent.app.cli import main\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0))\n"
        "port = s.getsockname()[1]\n"  # a bound socket that never answers: the read times out
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        "    status = main(['read', f'udp://127.0.0.1:{port}', '--community', 'public', '--timeout', '0.2',"
        " '--retries', '0'])\n"
        "assert status == 1, status"
    )
    assert "agent.devices.snmp.fastpath" in modules
    assert _loaded(modules, ("pysnmp", "pysmi", "sklearn", "matplotlib", "scipy")) == []


def test_the_protocol_names_the_parser_offers_are_the_ones_pysnmp_is_given() -> None:
    from agent.config.site import V3Credentials
    from agent.devices.snmp.pysnmp_path import AUTH_PROTOCOLS, PRIV_PROTOCOLS
    from agent.devices.snmp.seam import AUTH_PROTOCOL_NAMES, PRIV_PROTOCOL_NAMES

    assert sorted(AUTH_PROTOCOLS) == sorted(AUTH_PROTOCOL_NAMES)
    assert sorted(PRIV_PROTOCOLS) == sorted(PRIV_PROTOCOL_NAMES)
    fields = V3Credentials.model_fields
    assert sorted(get_args(fields["auth_protocol"].annotation)) == sorted(AUTH_PROTOCOL_NAMES)
    assert sorted(a for a in get_args(get_args(fields["priv_protocol"].annotation)[0])) == sorted(PRIV_PROTOCOL_NAMES)
