"""Which meters sum to facility, IT and the other boundaries (ISO/IEC 30134-2), with their tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, create_model

from agent.config.audit import DEFAULT_ENERGY_TYPE, EnergyType, Subsystem, tag_term
from agent.config.base import Name, StrictModel
from agent.config.boundaries import OPTIONAL_BOUNDARIES, Boundary


class TopologyTerm(StrictModel):
    """One device's contribution to a boundary sum (its ``power_quantity`` readings, summed).

    ``subsystem``, ``unit`` and (facility terms only) ``energy_type`` tag the term for the report's and
    export's energy by sub-system, unit and energy type (:mod:`agent.config.audit`).
    """

    device: str = Field(description="name of a configured device")
    power_quantity: str = Field(default="active_power_w", description="rate summed for live values")
    energy_quantity: str = Field(default="energy_j", description="counter (or integrated power) summed for energy")
    subsystem: Subsystem | None = Field(default=None, description="the sub-system this meter measures (its energy)")
    unit: Name | None = Field(default=None, description="the hall or building this meter's energy belongs to")
    energy_type: EnergyType | None = Field(
        default=None, description="facility terms: the energy type (default grid_electricity)"
    )


def _term_model(b: Boundary) -> type[TopologyTerm]:
    """The term type of one optional boundary: a :class:`TopologyTerm` with that boundary's quantities."""
    return create_model(
        f"{b.name.title()}Term",
        __base__=TopologyTerm,
        __doc__=f"A meter of the {b.name} boundary: {b.description}.",
        power_quantity=(str, Field(default=b.power_quantity, description="rate summed for live values")),
        energy_quantity=(str, Field(default=b.energy_quantity, description="counter summed for the amount")),
    )


class Zone(StrictModel):
    """One zone's partial PUE boundary (The Green Grid WP 49): its IT and the overhead serving only it."""

    it: tuple[TopologyTerm, ...] = Field(min_length=1, description="the zone's IT meters")
    overhead: tuple[TopologyTerm, ...] = Field(
        min_length=1, description="the zone's own cooling units, distribution losses, lighting"
    )


class _TopologyCore(StrictModel):
    """Which readings sum to facility and IT power (ISO/IEC 30134-2), and at which category.

    ``cooling`` gives the pPUE of the cooling subsystem, ``zones`` per-zone pPUE. The optional boundaries
    (one field each) come from :data:`agent.config.boundaries.OPTIONAL_BOUNDARIES`: ``distribution`` (the
    energy entering power distribution, e.g. UPS inputs: its pPUE is that over IT energy), ``renewable``
    (on-site generation consumed, REF per ISO/IEC 30134-3: when it feeds the site behind the utility meter,
    list its meter in ``facility`` too), ``reuse`` (heat delivered for reuse, ERE and ERF), ``water`` (WUE).
    """

    it_category: Literal[1, 2, 3] = Field(
        description="IT energy measured at: 1 UPS output, 2 PDU output, 3 IT equipment input"
    )
    facility: tuple[TopologyTerm, ...] = Field(min_length=1, description="meters of the total facility energy")
    it: tuple[TopologyTerm, ...] = Field(min_length=1, description="meters of the IT energy, at it_category")
    cooling: tuple[TopologyTerm, ...] = Field(default=(), description="meters of the cooling subsystem (its pPUE)")
    zones: dict[Name, Zone] = Field(default_factory=dict, description="per-zone partial PUE boundaries")
    submeters: tuple[TopologyTerm, ...] = Field(
        default=(), description="meters of sub-systems or units in no boundary above (tag each one)"
    )

    def terms(self, boundary: str) -> tuple[TopologyTerm, ...]:
        """The terms of a boundary by name (facility, it, cooling or an optional one)."""
        return tuple(getattr(self, boundary))

    def optional_boundaries(self) -> tuple[tuple[str, tuple[TopologyTerm, ...]], ...]:
        """The configured optional boundaries (table order), measured against facility/IT covered time."""
        return tuple((b.name, self.terms(b.name)) for b in OPTIONAL_BOUNDARIES if self.terms(b.name))

    def all_terms(self) -> tuple[TopologyTerm, ...]:
        """Every term of every boundary (the device quantities whose energy the agent keeps)."""
        zone_terms = tuple(t for z in self.zones.values() for t in (*z.it, *z.overhead))
        optional = tuple(t for b in OPTIONAL_BOUNDARIES for t in self.terms(b.name))
        return (*self.facility, *self.it, *self.cooling, *optional, *zone_terms, *self.submeters)

    def tag_groups(self) -> tuple[tuple[str, str, tuple[TopologyTerm, ...]], ...]:
        """(kind, name, terms) of every sub-system, unit and energy type tagged in the topology, each
        term once (a device quantity listed in two boundaries is one meter). Energy types partition the
        facility terms (untagged ones are grid electricity) and are listed once any is tagged."""
        groups: dict[tuple[str, str], dict[tuple[str, str], TopologyTerm]] = {}
        for term in self.all_terms():
            for kind, name in (("subsystem", term.subsystem), ("unit", term.unit)):
                if name is not None:
                    groups.setdefault((kind, name), {}).setdefault((term.device, term.energy_quantity), term)
        if any(t.energy_type is not None for t in self.facility):
            for term in self.facility:
                name = term.energy_type or DEFAULT_ENERGY_TYPE
                groups.setdefault(("energy_type", name), {}).setdefault((term.device, term.energy_quantity), term)
        return tuple((kind, name, tuple(terms.values())) for (kind, name), terms in sorted(groups.items()))

    def tag_boundaries(self) -> tuple[tuple[str, tuple[TopologyTerm, ...]], ...]:
        """:meth:`tag_groups` as boundaries named by their stored term (``subsystem:chillers:energy_j``), measured
        like the optional boundaries against the facility/IT covered time."""
        return tuple((tag_term(kind, name), terms) for kind, name, terms in self.tag_groups())


#: the topology: the core boundaries above plus one field per row of the optional-boundary table
if TYPE_CHECKING:
    Topology = _TopologyCore
else:
    Topology = create_model(
        "Topology",
        __base__=_TopologyCore,
        __doc__=_TopologyCore.__doc__,
        **{
            b.name: (tuple[_term_model(b), ...], Field(default=(), description=b.description))
            for b in OPTIONAL_BOUNDARIES
        },
    )
