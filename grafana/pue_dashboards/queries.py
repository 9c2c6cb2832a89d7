"""PromQL expressions and notes more than one dashboard uses: site energy and PUE, emissions, cost, writes.

Emission factor: the agent exports the one its config names (``carbon.emission_factor``) as
``pue_site_emission_factor_kg_per_kwh{factor,year,region,route}`` (no sample when none is configured);
emissions and CUE panels multiply a site's grid electricity (facility less on-site renewable: PV is never
charged) by a location-based factor. Diesel, green certificates and the market-based route are in the
period report only (docs/carbon.md).
"""

from __future__ import annotations

from pue_dashboards.panels import annotation

S = 'site=~"$site"'
SITE_E = 'pue_site_energy_joules_total{%s,boundary="%s"}'
REC_W = 'site_boundary:pue_site_energy_joules:rate5m{%s,boundary="%s"}'
#: a site run as shards (`pue-agent run --shard I/N`) has no pue_site_* series: its 5-minute boundary powers and
#: PUE are the shard records (deploy/prometheus/rules/pue-shards.rules.yml), which the live panels fall back to
SHARD_W = 'site_boundary:pue_shard_energy_joules:rate_covered5m{%s,boundary="%s"}'
PUE_5M = f"site:pue:ratio_rate5m{{{S}}} or site:pue_sharded:ratio_rate5m{{{S}}}"


def site_w(boundary: str) -> str:
    """A boundary's 5-minute power [W] of the selected sites, sharded or not."""
    return f"{REC_W % (S, boundary)} or {SHARD_W % (S, boundary)}"


DEV = f'{S},device=~"$device"'

#: the site's grid emission factor [kg CO2/kWh] as the agent exports it, one value per site (max over its agents)
EMISSION_FACTOR = 'max by (site) (pue_site_emission_factor_kg_per_kwh{site=~"$site",route="location"})'
EMISSION_NOTE = (
    "Grid electricity (facility less on-site renewable) x the location-based grid emission factor the agent "
    "is configured with (carbon.emission_factor, dated MEE/NBS table in agent/data/emission_factors.yaml; "
    "no data without one). Diesel and green certificates: see the period report."
)


def times_factor(expr: str) -> str:
    """``expr`` (one series per site) times that site's emission factor."""
    return f"({expr})\n  * on (site) {EMISSION_FACTOR}"


def increase(boundary: str, window: str) -> str:
    """A boundary's energy [J] over ``window`` from the counters, summed over agents first."""
    return f"sum by (site) (increase({SITE_E % (S, boundary)}[{window}]))"


def ratio(numerator: str, denominator: str, window: str = "$__range") -> str:
    """Ratio of two boundaries' energies over ``window``."""
    return f"{increase(numerator, window)}\n  / {increase(denominator, window)}"


def grid_j(window: str) -> str:
    """Grid electricity [J] over ``window``: facility less on-site renewable (none metered: all of it)."""
    facility = increase("facility", window)
    return f"({facility}\n  - ({increase('renewable', window)} or {facility} * 0))"


def shard_power(boundary: str, window: str) -> str:
    """A sharded site's boundary power [W] over ``window``: each shard's energy over the seconds it covered, summed
    over the shards (the rule of deploy/prometheus/rules/pue-shards.rules.yml, over any window)."""
    return (
        f'sum by (site) (increase(pue_shard_energy_joules_total{{{S},boundary="{boundary}"}}[{window}])\n'
        f"  / ignoring (boundary) group_left increase(pue_shard_complete_seconds_total{{{S}}}[{window}]))"
    )


def sharded_pue(window: str) -> str:
    """A sharded site's energy PUE over ``window``; none while a shard covered under half of what another did, or
    fewer shards reported in the window than the site has."""
    covered = f"increase(pue_shard_complete_seconds_total{{{S}}}[{window}])"
    return (
        f"(\n  {shard_power('facility', window)}\n  / {shard_power('it', window)}\n)"
        f"\n  unless on (site) (min by (site) ({covered}) < 0.5 * max by (site) ({covered}))"
        f"\n  unless on (site) (count by (site) ({covered})"
        f" < max by (site) (max_over_time(pue_shard_count{{{S}}}[{window}])))"
    )


def energy_pue(window: str) -> str:
    """Energy-based PUE over ``window`` straight from the counters: the site's agent, or its shards."""
    return f"(\n{ratio('facility', 'it', window)}\n)\n  or ({sharded_pue(window)})"


def kwh(boundary: str, window: str) -> str:
    return f"{increase(boundary, window)} / 3.6e6"


def overhead(numerator_w: str, window: str) -> str:
    """A recorded power over ``window`` divided by the IT power over the same window (ratio of means)."""
    return f"avg_over_time({numerator_w}[{window}])\n  / on (site) avg_over_time({REC_W % (S, 'it')}[{window}])"


#: the warmest rack inlet per site and zone (recording rule)
RACK_INLET_MAX = f'site_zone:pue_device_rack_inlet_temperature_celsius:max{{{S},zone=~"$zone"}}'

COST = f"pue_site_energy_cost_cny_total{{{S}}}"
COST_NOTE = (
    "Facility energy cost under the configured time-of-use tariff (tariff: in the agent's config, docs/tariff.md): "
    "increase() of pue_site_energy_cost_cny_total, which the agent counts per period from the facility energy of "
    "complete intervals times the period's price. No data without a tariff section."
)
CNY = "suffix: CNY"


# --- setpoint write / revert annotations --------------------------------------------------------------------

WRITES = f"pue_setpoint_writes_total{{{S}}}"
REVERTS = f"pue_setpoint_reverts_total{{{S}}}"


def counted(counter: str, by: str, window: str = "2m") -> str:
    """Steps at which a counter grew, including its first sample (a counter is born at 1 on the first event,
    which ``increase`` alone does not see)."""
    return f"sum by ({by}) ((increase({counter}[{window}]) > 0)\n  or ({counter} unless {counter} offset {window}))"


def grown(counter: str, window: str) -> str:
    """How much a counter grew over ``window``, per site, counting series born inside the window from 0."""
    return f"sum by (site) (clamp_min({counter} - (({counter} offset {window}) or ({counter} * 0)), 0))"


SETPOINT_ANNOTATIONS = [
    annotation(
        "Setpoint writes",
        counted(WRITES, "site, device, quantity, result"),
        "blue",
        "setpoint write ({{result}})",
        "{{device}} {{quantity}}",
        "device,quantity,result",
    ),
    annotation(
        "Setpoint reverts",
        counted(REVERTS, "site, device, quantity"),
        "red",
        "setpoint reverted",
        "{{device}} {{quantity}} back to last known-good",
        "device,quantity",
    ),
]
