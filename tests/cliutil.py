"""Running the real `pue-agent` command line in tests, and what a bad-input answer must look like."""

from __future__ import annotations

import subprocess


def assert_bad_input(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, no traceback, every fragment on one stderr line; returns that line."""
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-1000:], proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if all(f in line for f in fragments)]
    assert lines, f"no stderr line with all of {fragments}: {proc.stderr[-2000:]}"
    return lines[0]
