"""The house style is enforced by the suite, not by memory: ruff (pyproject's rules, line length 120),
``ruff format`` and mypy --strict over the packages must all be clean (``make lint`` runs the same)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


PACKAGES = ("agent", "models", "twin", "tests", "bench")


def test_ruff_is_clean() -> None:
    out = _run("ruff", "check", *PACKAGES)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_ruff_format_is_applied() -> None:
    out = _run("ruff", "format", "--check", *PACKAGES)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_mypy_strict_is_clean() -> None:
    out = _run("mypy")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
