"""Build the provisioned Grafana dashboards (grafana/dashboards/*.json) from ``grafana/pue_dashboards/``.

Run ``python grafana/build_dashboards.py`` after editing a dashboard (one module each in ``pue_dashboards/``,
beside its shared ``panels``, ``queries`` and ``notes``); tests/ops/test_dashboards.py fails when the committed
JSON differs from what this script writes. The datasource, description and emission-factor rules are in the
docstrings of ``pue_dashboards/panels.py`` and ``pue_dashboards/queries.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
# run as a script or loaded from its file by the tests: the dashboards package sits beside this file
if str(OUT_DIR.parent) not in sys.path:
    sys.path.insert(0, str(OUT_DIR.parent))

from pue_dashboards import agent_health, cooling, energy_audit, morning, site_overview  # noqa: E402

DASHBOARDS = {
    "morning.json": morning.morning,
    "site-overview.json": site_overview.site_overview,
    "cooling-recommendations.json": cooling.cooling,
    "energy-audit.json": energy_audit.energy_audit,
    "agent-health.json": agent_health.agent_health,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


def main() -> int:
    OUT_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT_DIR / name).write_text(text)
        print(f"wrote {OUT_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
