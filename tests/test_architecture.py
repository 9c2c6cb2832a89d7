"""Structural rules of the house style, enforced (habits 1, 4 and the one-adapter rule)."""

import ast
from pathlib import Path

import agent

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_models_is_pure() -> None:
    forbidden = {"agent", "pysnmp", "prometheus_client", "apscheduler", "socket", "sqlite3", "os", "time"}
    for path in (ROOT / "models").rglob("*.py"):
        bad = _imports(path) & forbidden
        assert not bad, f"{path} imports {bad}"


def test_only_the_adapter_and_the_simulator_import_pysnmp() -> None:
    importers = {p.relative_to(ROOT).as_posix() for p in (ROOT / "agent").rglob("*.py") if "pysnmp" in _imports(p)}
    assert importers <= {"agent/snmp.py", "agent/sim/responder.py"}, importers


def test_only_the_adapter_imports_the_wire_codec_and_the_codec_is_pure() -> None:
    """agent/snmp_wire.py is a fast path hidden behind the one SNMP adapter, and needs no SNMP library."""
    importers = {
        p.relative_to(ROOT).as_posix()
        for package in ("agent", "models") for p in (ROOT / package).rglob("*.py")
        if "snmp_wire" in p.read_text() and p.name != "snmp_wire.py"
    }
    assert importers <= {"agent/snmp.py"}, importers
    assert not _imports(ROOT / "agent" / "snmp_wire.py") & {"pysnmp", "pyasn1", "socket", "asyncio"}


def test_agent_core_does_not_import_the_twin_or_simulator() -> None:
    core = [p for p in (ROOT / "agent").glob("*.py") if p.name != "cli.py"]
    for path in core:
        text = path.read_text()
        assert "agent.twin" not in text and "agent.sim" not in text, path


def test_public_surface() -> None:
    assert agent.__all__ == ["__version__"]
