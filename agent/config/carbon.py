"""How reports account carbon: the grid emission factor, its route, green electricity and generator diesel."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from agent.config.base import StrictModel
from agent.config.emission import known_factors, known_fuel_factors, load_emission_factor, load_fuel_factor


class GreenElectricity(StrictModel):
    """Contracted green electricity for a period: green certificates (绿证) or a green-power trade (绿电交易).

    Counted in a report whose period contains ``[start, end)`` (dates in the site's time zone); an entry
    straddling the report's start or end is listed as not counted, never pro-rated.
    """

    kind: Literal["certificate", "green_power_trade"] = Field(
        description="certificate: green certificates (绿证); green_power_trade: a green-power trade (绿电交易)"
    )
    start: date = Field(description="first day covered (site time zone)")
    end: date = Field(description="day after the last day covered")
    kwh: float = Field(gt=0, allow_inf_nan=False, description="green electricity the entry stands for [kWh]")
    ids: tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        min_length=1, description="certificate numbers or the trade contract ids (traceable by an auditor)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> GreenElectricity:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class DieselEntry(StrictModel):
    """Generator diesel burnt in ``[start, end)`` (dates in the site's time zone), from the fuel log."""

    start: date = Field(description="first day covered (site time zone)")
    end: date = Field(description="day after the last day covered")
    litres: float = Field(ge=0, allow_inf_nan=False, description="diesel burnt, from the fuel log [L]")
    generated_kwh: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="generator electricity consumed, where metered and inside the facility meters' boundary "
        "(it is then not grid electricity) [kWh]",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DieselEntry:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class CarbonConfig(StrictModel):
    """How reports account carbon: the grid factor (an explicit choice: there is no default), the route,
    contracted green electricity and generator fuel. Without a ``carbon`` section reports say
    "no emission factor configured" and give no carbon figure. See docs/carbon.md.
    """

    emission_factor: str = Field(
        description="a key of agent/data/emission_factors.yaml (required: there is no default factor); its route "
        "must match `route`"
    )
    route: Literal["location", "market"] = Field(
        default="location",
        description="location: a grid average factor; market: green electricity deducted, the rest at a "
        "residual factor (route: market in the table)",
    )
    fuel_factor: str | None = Field(
        default=None, description="a key of agent/data/fuel_emission_factors.yaml (required with diesel entries)"
    )
    diesel_density_kg_per_l: float | None = Field(
        default=None,
        gt=0.7,
        lt=1.0,
        description="density of the site's diesel (delivery note), needed when the fuel factor is published per mass",
    )
    green_electricity: tuple[GreenElectricity, ...] = Field(
        default=(), description="contracted green electricity per period, counted in reports whose period contains it"
    )
    diesel: tuple[DieselEntry, ...] = Field(
        default=(), description="generator diesel per period, counted in reports whose period contains it"
    )

    @field_validator("emission_factor")
    @classmethod
    def _known_factor(cls, value: str) -> str:
        if value not in known_factors():
            raise ValueError(f"unknown emission factor {value!r}; known: {', '.join(known_factors())}")
        return value

    @field_validator("fuel_factor")
    @classmethod
    def _known_fuel(cls, value: str | None) -> str | None:
        if value is not None and value not in known_fuel_factors():
            raise ValueError(f"unknown fuel factor {value!r}; known: {', '.join(known_fuel_factors())}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CarbonConfig:
        problems = []
        factor = load_emission_factor(self.emission_factor)
        if factor.route != self.route:
            fitting = ", ".join(known_factors(route=self.route))
            problems.append(
                f"carbon.emission_factor: {self.emission_factor!r} is a {factor.route} factor; route "
                f"{self.route!r} needs one of: {fitting}"
            )
        if self.diesel and self.fuel_factor is None:
            problems.append("carbon.fuel_factor: required with carbon.diesel entries")
        if self.fuel_factor is not None and self.diesel:
            fuel = load_fuel_factor(self.fuel_factor)
            if fuel.kg_co2_per_litre_published is None and self.diesel_density_kg_per_l is None:
                problems.append(
                    f"carbon.diesel_density_kg_per_l: required, {self.fuel_factor!r} is published per mass "
                    "(give the density on the fuel's delivery note)"
                )
        ids = Counter(i for g in self.green_electricity for i in g.ids)
        for dup in sorted(i for i, n in ids.items() if n > 1):
            problems.append(f"carbon.green_electricity: id {dup!r} is listed more than once (counted twice)")
        if problems:
            raise ValueError("; ".join(problems))
        return self
