"""Emission factors as dated data: grid electricity (``agent/data/emission_factors.yaml``) and fuels
(``agent/data/fuel_emission_factors.yaml``), one row per published value with its publication.

Used by the config (an unknown or unsuitable ``carbon.emission_factor`` / ``carbon.fuel_factor`` is a
config error), the exporter (``pue_site_emission_factor_kg_per_kwh``) and the reports (CUE, tCO2). There
is no default grid factor: a site names the one it reports with, and without one the reports and the
exporter say "no emission factor configured" and give no carbon figure.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.errors import HistoryQueryError

__all__ = [
    "EMISSION_FACTORS_FILE",
    "FUEL_FACTORS_FILE",
    "EmissionFactor",
    "FuelFactor",
    "Route",
    "factor_table_version",
    "known_factors",
    "known_fuel_factors",
    "load_emission_factor",
    "load_fuel_factor",
]

_DATA = Path(__file__).resolve().parent.parent / "data"
EMISSION_FACTORS_FILE = _DATA / "emission_factors.yaml"
FUEL_FACTORS_FILE = _DATA / "fuel_emission_factors.yaml"

#: location: a grid average over all electricity; market: the residual average after market-traded
#: non-fossil electricity (GHG Protocol Scope 2 Guidance, 2015: location- and market-based methods)
Route = Literal["location", "market"]

_KWH_PER_UNIT = {"TJ": 1e12 / 3.6e6, "GJ": 1e9 / 3.6e6, "mmBtu": 1.05505585262e9 / 3.6e6}
_LITRES_PER_UNIT = {"gallon": 3.785411784, "L": 1.0}
_KG_PER_UNIT = {"Gg": 1e6, "t": 1e3, "kg": 1.0}


@dataclass(frozen=True)
class EmissionFactor:
    """One published grid factor [kgCO2/kWh] with where it comes from.

    ``route`` is ``location`` (grid average), ``market`` (residual after market-traded non-fossil
    electricity) or ``fossil`` (fossil-fired electricity only, usable by neither route).
    """

    key: str
    kg_co2_per_kwh: float
    year: int
    region: str
    source: str
    scope: str = "national"
    route: str = "location"
    publication_date: str = ""
    checked: str = ""
    source_zh: str = ""

    def describe(self) -> str:
        return (
            f"{self.key}: {self.kg_co2_per_kwh:.4f} kgCO2/kWh ({self.scope} {self.region}, {self.year} data, "
            f"{self.route}-based; {self.source}, {self.publication_date})"
        )


@dataclass(frozen=True)
class FuelFactor:
    """A fuel's CO2 factor from one publication, per kWh of fuel energy and, where known, per kg or litre."""

    key: str
    fuel: str
    name: str
    publication: str
    date: str
    kg_co2_per_kwh_fuel: float
    basis: str
    kg_co2_per_kg: float | None
    kg_co2_per_litre_published: float | None

    def kg_co2_per_litre(self, density_kg_per_l: float | None = None) -> float:
        """kgCO2 per litre burnt: from a published heat content per volume, else per mass x ``density_kg_per_l``.

        Raises
        ------
        ValueError
            the publication gives no volume basis and no density is given.
        """
        if self.kg_co2_per_litre_published is not None:
            return self.kg_co2_per_litre_published
        if self.kg_co2_per_kg is None or density_kg_per_l is None:
            raise ValueError(
                f"fuel factor {self.key!r} is published per mass: give carbon.diesel_density_kg_per_l "
                "(the density on the fuel's delivery note)"
            )
        return self.kg_co2_per_kg * density_kg_per_l

    def describe(self) -> str:
        return f"{self.key}: {self.kg_co2_per_kwh_fuel:.4f} kgCO2/kWh of fuel ({self.basis}; {self.publication})"


@functools.lru_cache(maxsize=4)
def _read(path: Path) -> dict[str, Any]:
    import yaml  # the command line imports this module at every start; the tables load only when used

    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _grid_rows(path: Path) -> dict[str, dict[str, Any]]:
    return {str(row["key"]): row for row in _read(path)["factors"]}


def factor_table_version(path: Path = EMISSION_FACTORS_FILE) -> str:
    """The ``version`` of a factor table (the date of its last edit)."""
    return str(_read(path)["version"])


def known_factors(path: Path = EMISSION_FACTORS_FILE, route: str | None = None) -> list[str]:
    """The keys of the shipped grid table (only those of ``route`` if given), sorted."""
    return sorted(k for k, row in _grid_rows(path).items() if route is None or row["route"] == route)


def load_emission_factor(key: str, path: Path = EMISSION_FACTORS_FILE) -> EmissionFactor:
    """The dated grid emission factor ``key`` from the shipped table.

    Raises
    ------
    HistoryQueryError
        unknown key (the message lists the known ones).
    """
    rows = _grid_rows(path)
    if key not in rows:
        raise HistoryQueryError(f"unknown emission factor {key!r}; known: {', '.join(sorted(rows))}")
    row = rows[key]
    if row["unit"] != "kgCO2/kWh":
        raise HistoryQueryError(f"emission factor {key!r}: unit {row['unit']!r} is not kgCO2/kWh")
    publication = _read(path)["publications"][row["publication"]]
    return EmissionFactor(
        key=key,
        kg_co2_per_kwh=float(row["value"]),
        year=int(row["year"]),
        region=str(row["region"]),
        source=f"{publication['issuer']}, {publication['title']}",
        scope=str(row["scope"]),
        route=str(row["route"]),
        publication_date=str(publication["date"]),
        checked=str(row["checked"]),
        source_zh=str(publication.get("title_zh", "")),
    )


def known_fuel_factors(path: Path = FUEL_FACTORS_FILE) -> list[str]:
    """The keys of the shipped fuel table, sorted."""
    return sorted(_read(path)["fuels"])


def _per_kwh(value: float, unit: str) -> float:
    """kgCO2/<energy unit> -> kgCO2/kWh."""
    mass, energy = unit.split("/")
    if mass != "kgCO2" or energy not in _KWH_PER_UNIT:
        raise ValueError(f"unsupported unit {unit!r}")
    return value / _KWH_PER_UNIT[energy]


def _kwh_per(unit: str, table: dict[str, float]) -> float:
    """<energy unit>/<mass or volume unit> -> kWh per kg or per litre."""
    energy, amount = unit.split("/")
    if energy not in _KWH_PER_UNIT or amount not in table:
        raise ValueError(f"unsupported unit {unit!r}")
    return _KWH_PER_UNIT[energy] / table[amount]


def load_fuel_factor(key: str, path: Path = FUEL_FACTORS_FILE) -> FuelFactor:
    """The fuel factor ``key``, with its per-kWh, per-kg and per-litre figures derived from the published ones.

    Raises
    ------
    HistoryQueryError
        unknown key (the message lists the known ones).
    """
    fuels = _read(path)["fuels"]
    if key not in fuels:
        raise HistoryQueryError(f"unknown fuel factor {key!r}; known: {', '.join(sorted(fuels))}")
    entry = fuels[key]
    values = entry["values"]
    co2 = values["co2_per_energy"]
    per_kwh = _per_kwh(float(co2["value"]), str(co2["unit"]))
    per_mass = values.get("calorific_value_per_mass")
    per_volume = values.get("calorific_value_per_volume")
    return FuelFactor(
        key=key,
        fuel=str(entry["fuel"]),
        name=str(entry["name"]),
        publication=" ".join(str(entry["publication"]).split()),
        date=str(entry["date"]),
        kg_co2_per_kwh_fuel=per_kwh,
        basis=str(co2["basis"]),
        kg_co2_per_kg=None
        if per_mass is None
        else per_kwh * float(per_mass["value"]) * _kwh_per(str(per_mass["unit"]), _KG_PER_UNIT),
        kg_co2_per_litre_published=None
        if per_volume is None
        else per_kwh * float(per_volume["value"]) * _kwh_per(str(per_volume["unit"]), _LITRES_PER_UNIT),
    )
