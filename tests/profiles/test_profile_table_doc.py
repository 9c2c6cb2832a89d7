"""docs/profiles.md's table of supported families is the output of bench/profile_table.py over the shipped profiles."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("profile_table", ROOT / "bench" / "profile_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["profile_table"] = module
    spec.loader.exec_module(module)
    return module


def test_doc_table_equals_the_generated_one() -> None:
    tool = _tool()
    in_doc = tool.doc_table((ROOT / "docs" / "profiles.md").read_text(encoding="utf-8"))
    assert in_doc == tool.table(), "docs/profiles.md is stale: run .venv/bin/python bench/profile_table.py --write"


def test_every_shipped_profile_has_one_row() -> None:
    tool = _tool()
    rows = [line for line in tool.table().splitlines()[2:] if line.startswith("| `")]
    names = sorted(p.stem for p in (ROOT / "configs" / "profiles").glob("*.yaml"))
    assert [row.split("`")[1] for row in rows] == names


def test_a_stale_table_is_caught(tmp_path: Path) -> None:
    tool = _tool()
    text = f"intro\n{tool.BEGIN}\n| profile |\n{tool.END}\n"
    assert tool.doc_table(text) != tool.table()
    with pytest.raises(ValueError, match="markers"):
        tool.doc_table("no table here\n")
