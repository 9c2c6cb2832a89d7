"""The ONE table of the topology's optional boundaries: adding a boundary is adding a row here.

Facility and IT (ISO/IEC 30134-2) and cooling are the PUE's own boundaries. The optional ones below are
measured against the facility/IT covered time of each interval and feed the PUE family's other metrics
(pPUE of power distribution, REF, ERE/ERF, WUE: :mod:`models.metrics`). Every stage reads them from this
table: the site config (:class:`agent.config.topology.Topology` gets one field per row, whose terms default to
``power_quantity``/``energy_quantity``), the config cross-check, the history writer (stored term), the
history export and import (columns, units, plausibility ceiling) and the Prometheus site collector
(metric and label).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OPTIONAL_BOUNDARIES", "Boundary", "boundary"]

#: no site draws or delivers more than this [W]: the importer's ceiling for energy boundaries (ten times the
#: largest data-centre campuses)
MAX_POWER_W = 1e10


@dataclass(frozen=True, slots=True)
class Boundary:
    """One optional boundary of the topology."""

    #: key under ``topology:`` in the site config
    name: str
    #: what its meters measure, for the config's documentation
    description: str
    #: default quantities of its terms: the rate summed live, the counter integrated
    power_quantity: str
    energy_quantity: str
    #: stored term of a site interval (``site_term_interval.term``), in SI: J or m3
    term: str
    #: history export/import columns: the amount over the covered time, and its coverage share
    export_column: str
    coverage_column: str
    #: stored units per export-column unit (J per kWh; 1 for m3)
    stored_per_export_unit: float
    #: Prometheus: the site counter family and its ``boundary`` label value (None: a family of its own)
    metric: str
    metric_label: str | None
    #: no plausible site exceeds this rate [stored unit per second]: an import above it is refused
    max_rate_per_s: float


OPTIONAL_BOUNDARIES: tuple[Boundary, ...] = (
    Boundary(
        "distribution",
        "energy entering the power distribution subsystem (UPS inputs), for its pPUE",
        "active_power_w",
        "energy_j",
        "distribution_j",
        "distribution_energy_kwh",
        "distribution_coverage",
        3.6e6,
        "pue_site_energy_joules",
        "distribution",
        MAX_POWER_W,
    ),
    Boundary(
        "renewable",
        "on-site renewable generation consumed by the data centre (REF, ISO/IEC 30134-3)",
        "active_power_w",
        "energy_j",
        "renewable_j",
        "renewable_energy_kwh",
        "renewable_coverage",
        3.6e6,
        "pue_site_energy_joules",
        "renewable",
        MAX_POWER_W,
    ),
    Boundary(
        "reuse",
        "heat delivered for reuse outside the data centre (ERE, ERF)",
        "reused_heat_power_w",
        "reused_heat_energy_j",
        "reused_heat_j",
        "reused_heat_energy_kwh",
        "reused_heat_coverage",
        3.6e6,
        "pue_site_energy_joules",
        "reuse",
        MAX_POWER_W,
    ),
    Boundary(
        "water",
        "site water meters (WUE, The Green Grid WP 35): flow and volume",
        "water_flow_m3_per_s",
        "water_volume_m3",
        "water_m3",
        "water_volume_m3",
        "water_coverage",
        1.0,
        "pue_site_water_cubic_meters",
        None,
        10.0,
    ),  # the largest sites use about 0.3 m3/s
)

_BY_NAME = {b.name: b for b in OPTIONAL_BOUNDARIES}


def boundary(name: str) -> Boundary:
    """The optional boundary named ``name`` (KeyError for another name)."""
    return _BY_NAME[name]
