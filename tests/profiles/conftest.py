"""Make ``tests/snmpsim_server.py`` and the sibling helper module importable from this directory."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS) not in sys.path:
    sys.path.append(str(_TESTS))
