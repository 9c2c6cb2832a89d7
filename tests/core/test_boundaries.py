"""The one boundary table (agent/config/boundaries.py) reaches config, history, export and the exporter.

Adding a boundary is adding a row: shown here by adding a made-up one ("lighting") to the table in a fresh
interpreter and following it through every stage, with no other change.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.config.boundaries import OPTIONAL_BOUNDARIES
from agent.export import metric_names

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import dataclasses, sys
from agent.config import boundaries as table
lighting = dataclasses.replace(table.OPTIONAL_BOUNDARIES[0], name="lighting", description="lighting circuits",
                               term="lighting_j", export_column="lighting_energy_kwh",
                               coverage_column="lighting_coverage", metric_label="lighting")
table.OPTIONAL_BOUNDARIES = (*table.OPTIONAL_BOUNDARIES, lighting)

from agent.config.site import Topology
from agent.history import export, writer, importer
topo = Topology.model_validate({"it_category": 1, "facility": [{"device": "m"}], "it": [{"device": "u"}],
                                "lighting": [{"device": "l"}]})
print("config", [n for n, _ in topo.optional_boundaries()], [t.device for t in topo.all_terms()])
print("writer", writer._RATIO_TERMS["lighting"])
print("export", "lighting_energy_kwh" in export.EXTRA_COLUMNS, ("lighting_j", "lighting_energy_kwh",
      "lighting_coverage", 3.6e6) in export.TERM_COLUMNS)
print("importer", any(b.name == "lighting" for b in importer.OPTIONAL_BOUNDARIES))
"""


def test_a_boundary_added_to_the_table_reaches_every_stage() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["config"] == "['lighting'] ['m', 'u', 'l']"
    assert lines["writer"] == "lighting_j"
    assert lines["export"] == "True True"
    assert lines["importer"] == "True"


def test_the_table_names_exported_metrics_and_unique_columns() -> None:
    names = {v for v in vars(metric_names).values() if isinstance(v, str)}
    columns = [c for b in OPTIONAL_BOUNDARIES for c in (b.export_column, b.coverage_column)]
    assert len(columns) == len(set(columns))
    assert len({b.term for b in OPTIONAL_BOUNDARIES}) == len(OPTIONAL_BOUNDARIES)
    for b in OPTIONAL_BOUNDARIES:
        assert b.metric in names, b
        assert (b.metric_label is None) == (b.metric != metric_names.SITE_ENERGY), b
