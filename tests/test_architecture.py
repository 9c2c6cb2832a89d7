"""The shape of the code, enforced: the data flow in the folders, one adapter per protocol, pure models.

config -> devices (profiles, quantities, protocol clients) -> site (polling, counters, accounting) ->
export / history / reports -> control. ``models/`` is pure; ``twin/`` is a simulated plant beside the agent,
which never imports it.
"""

import ast
from pathlib import Path

import agent

ROOT = Path(__file__).resolve().parent.parent
AGENT = ROOT / "agent"

#: protocol libraries and the agent's protocol adapters; only agent/devices/<protocol>/ may import them
PROTOCOL_LIBRARIES = {"pysnmp", "pyasn1", "pysmi", "pymodbus", "bacpypes3", "BAC0", "urllib3"}
PROTOCOL_PACKAGES = ("agent.devices.snmp", "agent.devices.modbus", "agent.devices.bacnet", "agent.devices.redfish")
#: which adapter may import which protocol library
ADAPTER_LIBRARIES = {
    "agent/devices/snmp/": {"pysnmp", "pyasn1", "pysmi"},
    "agent/devices/modbus/": {"pymodbus"},
    "agent/devices/bacnet/": {"bacpypes3"},
    "agent/devices/redfish/": {"urllib3"},  # the HTTP client of Redfish (agent/devices/redfish/client.py)
}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, dotted in full (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _top(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _agent_modules(*packages: str) -> list[Path]:
    return [p for package in packages for p in (AGENT / package).rglob("*.py")]


def test_the_folders_show_the_data_flow() -> None:
    expected = {"app", "config", "devices", "site", "export", "history", "reports", "control", "data"}
    actual = {p.name for p in AGENT.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert actual == expected
    loose = {p.name for p in AGENT.glob("*.py")}
    assert loose == {"__init__.py", "errors.py"}, "a module beside the stage packages belongs in one of them"


def test_models_is_pure() -> None:
    forbidden = {"agent", "twin", "pysnmp", "prometheus_client", "apscheduler", "socket", "sqlite3", "os", "time"}
    for path in (ROOT / "models").rglob("*.py"):
        bad = _top(_imports(path)) & forbidden
        assert not bad, f"{_rel(path)} imports {bad}"


def test_only_the_protocol_adapters_import_protocol_libraries() -> None:
    importers = {_rel(p) for p in AGENT.rglob("*.py") if _top(_imports(p)) & PROTOCOL_LIBRARIES}
    assert all(i.startswith(tuple(ADAPTER_LIBRARIES)) for i in importers), importers
    # each adapter imports its own protocol's library only (the Modbus adapter never loads pysnmp)
    for folder, own in ADAPTER_LIBRARIES.items():
        for path in (ROOT / folder).rglob("*.py"):
            foreign = _top(_imports(path)) & (PROTOCOL_LIBRARIES - own)
            assert not foreign, f"{_rel(path)} imports {foreign}"


def test_modbus_registers_and_batching_are_pure() -> None:
    """The register codec and batching plan need no Modbus library and no I/O (unit-testable alone)."""
    names = _imports(AGENT / "devices" / "modbus" / "registers.py")
    assert not _top(names) & (PROTOCOL_LIBRARIES | {"socket", "asyncio"}), names
    assert "pymodbus" in _top(_imports(AGENT / "devices" / "modbus" / "client.py"))


def test_bacnet_points_and_batching_are_pure() -> None:
    """The point decoding and the ReadPropertyMultiple plan need no BACnet library and no I/O."""
    names = _imports(AGENT / "devices" / "bacnet" / "points.py")
    assert not _top(names) & (PROTOCOL_LIBRARIES | {"socket", "asyncio"}), names
    assert "bacpypes3" in _top(_imports(AGENT / "devices" / "bacnet" / "client.py"))
    assert "bacpypes3" not in _top(_imports(AGENT / "devices" / "bacnet" / "adapter.py"))


def test_only_the_snmp_adapter_imports_the_wire_codec_and_the_codec_is_pure() -> None:
    """agent/devices/snmp/wire.py is the fast path's codec, hidden in the SNMP adapter; it needs no SNMP library."""
    importers = {
        _rel(p)
        for package in ("agent", "models", "twin")
        for p in (ROOT / package).rglob("*.py")
        if any(n.startswith("agent.devices.snmp.wire") for n in _imports(p)) and p.name != "wire.py"
    }
    assert importers <= {
        "agent/devices/snmp/client.py",
        "agent/devices/snmp/fastpath.py",
        "agent/devices/snmp/pysnmp_path.py",
    }, importers
    assert all(i.startswith("agent/devices/snmp/") for i in importers), importers
    assert not _top(_imports(AGENT / "devices" / "snmp" / "wire.py")) & {"pysnmp", "pyasn1", "socket", "asyncio"}
    # the fast path exists to skip the SNMP library: it must not load it
    assert not _top(_imports(AGENT / "devices" / "snmp" / "fastpath.py")) & {"pysnmp", "pyasn1"}


def test_site_control_and_export_import_no_protocol() -> None:
    for path in _agent_modules("site", "control", "export"):
        names = _imports(path)
        bad = {n for n in names if n.startswith(PROTOCOL_PACKAGES)} | (_top(names) & PROTOCOL_LIBRARIES)
        assert not bad, f"{_rel(path)} imports {bad}: use the DeviceReader / SetpointWriter seam"


def test_the_agent_never_imports_the_twin() -> None:
    for path in AGENT.rglob("*.py"):
        names = _imports(path)
        assert "twin" not in _top(names), f"{_rel(path)} imports the twin"
        assert not any("agent.twin" in n or "agent.sim" in n for n in names), _rel(path)


def test_stages_import_only_earlier_stages() -> None:
    """config <- devices <- site <- export/history/reports <- control <- app (errors is shared by all)."""
    order = ["config", "devices", "site", "export", "history", "reports", "control", "app"]
    # export, history and reports are siblings: each reads the site's state, none needs another's internals,
    # except reports and history, which read the history store
    allowed_sideways = {("reports", "history"), ("export", "history"), ("control", "history")}
    # the site config is checked against the device knowledge (profiles and quantities are data, not protocol)
    knowledge = ("agent.devices.profiles", "agent.devices.quantities")
    for stage in order:
        for path in _agent_modules(stage):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] != "agent" or len(parts) < 2 or parts[1] not in order:
                    continue
                other = parts[1]
                earlier = order.index(other) <= order.index(stage)
                known = stage == "config" and name.startswith(knowledge)
                assert earlier or known or (stage, other) in allowed_sideways, f"{_rel(path)} imports {name}"


def test_a_module_over_400_lines_says_why_at_its_top() -> None:
    """Issue 12: no module over ~400 lines without a reason stated at its top ("One module (over 400 lines): ...")."""
    for package in ("agent", "models", "twin"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") > 420:
                top = text[: text.find('"""', 3)]
                assert "One module (over 400 lines" in top, f"{_rel(path)}: {text.count(chr(10))} lines, no reason"


def test_public_surface() -> None:
    assert agent.__all__ == ["__version__"]


def test_only_the_postgres_history_package_imports_psycopg() -> None:
    """The database driver stays in agent/history/postgres/ (SQLite users never load it)."""
    importers = {_rel(p) for p in AGENT.rglob("*.py") if "psycopg" in _top(_imports(p))}
    assert importers and all(i.startswith("agent/history/postgres/") for i in importers), importers
