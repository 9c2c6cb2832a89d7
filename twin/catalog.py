"""What the twin offers by name (weather sites, controllers), without loading the simulator.

The command line builds its parser from these at every ``pue-agent`` start, so this module imports nothing
(numpy and the physics load only when a command runs: ``tests/core/test_cli_startup.py``).
"""

from __future__ import annotations

__all__ = ["BUNDLED_SITES", "CONTROLLERS"]

#: Bundled sites: name -> package data file.
BUNDLED_SITES: dict[str, str] = {
    "guiyang": "guiyang-normals.json",
    "chengdu": "CHN_SC_Chengdu.562940_CSWD.epw.gz",
    "chongqing": "CHN_CQ_Chongqing.575160_TMYx.2009-2023.epw.gz",
}

#: the setpoint schedules ``twin simulate --control`` runs (twin/controllers.py)
CONTROLLERS = ("baseline", "oracle")
