"""The site config: strict YAML, every problem reported at once with file, path and reason.

Secrets (communities, SNMPv3 keys, basic-auth hashes) are ``SecretStr``: they print as
``**********`` and :func:`dump_config` never reveals them.

Example (``configs/demo-site.yaml`` and ``configs/twin-site.yaml`` are complete ones)::

    site: {name: hall-1}
    poll_interval_s: 15
    listen: {address: 127.0.0.1, port: 10330}
    credentials:
      ro-v3: {version: "3", user: pue, auth_protocol: sha256, auth_key: "...",
              priv_protocol: aes128, priv_key: "..."}
    devices:
      - {name: meter-main, address: 10.0.0.10, credentials: ro-v3, profile: janitza-umg,
         role: utility_meter}
    topology:
      it_category: 1
      facility: [{device: meter-main}]
      it: [{device: ups-a}, {device: ups-b}]

One module (over 400 lines): the site config is one pydantic model tree, loaded and cross-checked against the
profiles with its error messages in one place.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    SecretStr,
    Tag,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from agent.config.audit import (
    DEFAULT_ENERGY_TYPE,
    EnergyType,
    MeterEntry,
    Subsystem,
    UtilityBill,
    check_register,
    tag_term,
)
from agent.config.boundaries import OPTIONAL_BOUNDARIES, Boundary
from agent.config.emission import known_factors, known_fuel_factors, load_emission_factor, load_fuel_factor
from agent.config.levers import LeverConfig
from agent.config.strict_yaml import YamlFileError, read_yaml
from agent.config.tariff import TariffConfig
from agent.config.web import WebConfig, resolve_web_paths, server_ssl_context
from agent.devices.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry, load_profiles
from agent.errors import ConfigError, ProfileError

__all__ = [
    "DEFAULT_LISTEN_PORT",
    "CarbonConfig",
    "DeviceConfig",
    "DieselEntry",
    "GreenElectricity",
    "RedfishCredentials",
    "SiteConfig",
    "dump_config",
    "load_config",
]

#: 9100-9999 are taken in Prometheus's default-port list; 9116 is snmp_exporter. Ours: 10330.
DEFAULT_LISTEN_PORT = 10330

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class V2cCredentials(_Strict):
    """SNMP v1/v2c credentials: a community string."""

    version: Literal["1", "2c"] = Field(description="SNMP version")
    community: SecretStr = Field(description="community string (read-only for reads)")


class V3Credentials(_Strict):
    """SNMPv3 USM credentials. Protocols are always explicit: pysnmp would default to MD5/DES."""

    version: Literal["3"] = Field(description="SNMP version")
    user: str = Field(description="USM user name")
    security_level: Literal["authPriv", "authNoPriv"] = Field(
        default="authPriv", description="authPriv: authenticated and encrypted; authNoPriv: authenticated only"
    )
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] = Field(
        description="authentication protocol (always explicit)"
    )
    auth_key: SecretStr = Field(min_length=8, description="authentication pass phrase")
    priv_protocol: Literal["des", "3des", "aes128", "aes192", "aes256"] | None = Field(
        default=None, description="privacy (encryption) protocol, required with authPriv"
    )
    priv_key: SecretStr | None = Field(
        default=None, min_length=8, description="privacy pass phrase, required with authPriv"
    )
    context: str = Field(default="", description="SNMPv3 context name (most devices: empty)")

    @model_validator(mode="after")
    def _priv(self) -> V3Credentials:
        if self.security_level == "authPriv" and (self.priv_protocol is None or self.priv_key is None):
            raise ValueError("authPriv needs both priv_protocol and priv_key")
        if self.security_level == "authNoPriv" and (self.priv_protocol or self.priv_key):
            raise ValueError("authNoPriv takes no priv_protocol/priv_key")
        return self


class RedfishCredentials(_Strict):
    """A Redfish (HTTPS) account on servers' BMCs, and how their certificates are trusted.

    Certificate verification is on unless ``verify: false`` is written (the agent then warns at every
    start); ``ca_file`` names the CA bundle that signed the BMCs' certificates (relative to the config file).
    """

    protocol: Literal["redfish"] = Field(description="Redfish over HTTPS (a BMC account, not SNMP)")
    user: str = Field(min_length=1, description="BMC user name (a read-only role is enough)")
    password: SecretStr = Field(min_length=1, description="BMC password")
    auth: Literal["session", "basic"] = Field(
        default="session",
        description="session: POST SessionService/Sessions once, then X-Auth-Token (deleted on close); basic: "
        "HTTP basic auth on every request",
    )
    ca_file: Path | None = Field(default=None, description="CA bundle (PEM) trusted for the BMCs' certificates")
    verify: bool = Field(
        default=True, description="verify the BMC's certificate and host name; false only explicitly (warned)"
    )


def _credentials_tag(value: Any) -> str | None:
    """Which kind of credentials an entry is: its ``version`` (SNMP) or ``protocol: redfish``."""
    if isinstance(value, dict):
        tag = value.get("protocol", value.get("version"))
    else:
        tag = getattr(value, "protocol", None) or getattr(value, "version", None)
    return {"1": "v2c", "2c": "v2c"}.get(tag, tag) if isinstance(tag, str) else None


Credentials = Annotated[
    Annotated[V2cCredentials, Tag("v2c")]
    | Annotated[V3Credentials, Tag("3")]
    | Annotated[RedfishCredentials, Tag("redfish")],
    Discriminator(
        _credentials_tag,
        custom_error_type="credentials_kind",
        custom_error_message="credentials need version '1', '2c' or '3' (SNMP) or protocol: redfish",
    ),
]

Role = Literal[
    "utility_meter",
    "renewable_meter",
    "ups",
    "pdu",
    "cooling_unit",
    "chiller_plant",
    "environment_sensor",
    "other_meter",
    "server",  # IT equipment read at its input (a BMC over Redfish): IT at category 3
]


class Remap(_Strict):
    """Site wiring a profile cannot know: "this probe is a rack-inlet sensor".

    Readings of ``quantity`` whose labels include every pair of ``match`` become ``to`` (same unit).
    """

    quantity: str = Field(description="canonical quantity the profile reads (agent/devices/quantities.py)")
    to: str = Field(description="canonical quantity it becomes (same unit and kind)")
    match: dict[str, str] = Field(
        default_factory=dict, description="only readings whose labels include all these pairs (empty: all)"
    )

    @model_validator(mode="after")
    def _same_unit(self) -> Remap:
        from agent.devices.quantities import GLOSSARY

        for name in (self.quantity, self.to):
            if name not in GLOSSARY:
                raise ValueError(f"unknown quantity {name!r}")
        a, b = GLOSSARY[self.quantity], GLOSSARY[self.to]
        if a.unit != b.unit or a.kind != b.kind:
            raise ValueError(f"cannot remap {self.quantity} ({a.unit}, {a.kind}) to {self.to} ({b.unit}, {b.kind})")
        return self


#: BACnet priorities (ASHRAE 135 clause 19.2.1.1) a setpoint write never takes: 1-2 manual and automatic
#: life safety, 6 minimum on/off (reserved to the device's own minimum run times)
BACNET_FORBIDDEN_PRIORITIES = {1: "manual life safety", 2: "automatic life safety", 6: "minimum on/off"}
#: the priority named "manual operator": ours by default, and every write says so
BACNET_MANUAL_OPERATOR = 8


class BacnetDeviceSettings(_Strict):
    """How the agent writes a BACnet device's setpoints (reads need none of this)."""

    writes: bool = Field(
        default=False, description="true: guarded setpoint writes go to this device (false: read only)"
    )
    write_priority: int = Field(
        default=BACNET_MANUAL_OPERATOR,
        ge=1,
        le=16,
        description="priority-array slot the agent writes and relinquishes (8, manual operator, by default)",
    )
    allow_priority_above_manual_operator: bool = Field(
        default=False,
        description="true: allow write_priority 3, 4, 5 or 7 (outranking the BMS operator's own overrides); "
        "1, 2 (life safety) and 6 (minimum on/off) are never written",
    )

    @model_validator(mode="after")
    def _priority(self) -> BacnetDeviceSettings:
        name = BACNET_FORBIDDEN_PRIORITIES.get(self.write_priority)
        if name is not None:
            raise ValueError(f"write_priority {self.write_priority} ({name}) is never the agent's to write")
        if self.write_priority < BACNET_MANUAL_OPERATOR and not self.allow_priority_above_manual_operator:
            raise ValueError(
                f"write_priority {self.write_priority} outranks manual operator ({BACNET_MANUAL_OPERATOR}): set "
                "allow_priority_above_manual_operator: true if the site's BMS integrator agreed to it"
            )
        return self


class DeviceConfig(_Strict):
    """One device the agent polls: SNMP (credentials), Modbus TCP (unit_id) or BACnet/IP, as its profile says."""

    name: Name = Field(description="unique device name (the `device` label of its metrics)")
    address: str = Field(description="IP address or host name")
    port: int = Field(
        default=161,
        ge=1,
        le=65535,
        description="SNMP UDP port (161); for Modbus TCP, 502 unless given; for Redfish (HTTPS), 443 unless given",
    )
    credentials: str | None = Field(
        default=None,
        description="SNMP or Redfish: name of an entry under `credentials` used to read (required for both)",
    )
    write_credentials: str | None = Field(
        default=None, description="separate credentials for setpoint SETs (never the read ones)"
    )
    profile: str = Field(description="device profile name (configs/profiles/*.yaml or profile_dirs)")
    role: Role = Field(description="what the device is in the plant")
    zone: Name = Field(default="default", description="hall, room or area (the `zone` label)")
    timeout_s: float = Field(default=2.0, gt=0, le=30, description="request timeout [s] (SNMP, Modbus or Redfish)")
    retries: int = Field(default=1, ge=0, le=5, description="retries after a timeout")
    enabled: bool = Field(default=True, description="false: keep the entry but do not poll it")
    remap: tuple[Remap, ...] = Field(default=(), description="site wiring the profile cannot know")
    unit_id: int | None = Field(
        default=None,
        ge=0,
        le=255,
        description="Modbus devices: the unit id (1 unless given; behind a Modbus TCP/RTU gateway, the RTU "
        "device's address, several devices sharing the gateway's address and port)",
    )
    bacnet: BacnetDeviceSettings | None = Field(
        default=None, description="BACnet/IP devices: setpoint writes (port 47808 unless given)"
    )

    @property
    def writes_setpoints(self) -> bool:
        """Whether guarded writes may go to this device: SNMP write credentials, or BACnet ``writes: true``."""
        return self.write_credentials is not None or (self.bacnet is not None and self.bacnet.writes)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _is_hostname(value):
                raise ValueError(f"not an IP address or host name: {value!r}") from None
        return value


def _is_hostname(value: str) -> bool:
    labels = value.rstrip(".").split(".")
    if not value or len(value) > 253 or all(p.isdigit() for p in labels):
        return False
    return all(
        0 < len(p) <= 63 and p[0] != "-" and p[-1] != "-" and all(c.isalnum() or c == "-" for c in p) for p in labels
    )


class TopologyTerm(_Strict):
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


class Zone(_Strict):
    """One zone's partial PUE boundary (The Green Grid WP 49): its IT and the overhead serving only it."""

    it: tuple[TopologyTerm, ...] = Field(min_length=1, description="the zone's IT meters")
    overhead: tuple[TopologyTerm, ...] = Field(
        min_length=1, description="the zone's own cooling units, distribution losses, lighting"
    )


class _TopologyCore(_Strict):
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


class Listen(_Strict):
    """Where the agent serves /metrics, the API and its page."""

    address: str = Field(default="127.0.0.1", description="IP address to listen on (0.0.0.0: all)")
    port: int = Field(default=DEFAULT_LISTEN_PORT, ge=1, le=65535, description="TCP port")
    request_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="a client must send its whole request within this of connecting (slow ones are closed) [s]",
    )
    max_handlers: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="requests answered at once; more get 503 (connections still sending hold no thread)",
    )

    @field_validator("address")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"listen address must be an IP address: {value!r}") from None
        return value


class ExporterConfig(_Strict):
    """What /metrics exports per device (docs/metrics.md)."""

    device_metrics: Literal["all", "energy", "none"] = Field(
        default="all",
        description="per-device readings on /metrics: all; energy (the energy counters only, "
        "*_energy_joules_total); none (sites that keep raw series elsewhere). Device health "
        "(pue_device_up, poll duration, errors) and the site series are always exported",
    )


class HistoryConfig(_Strict):
    """The history store: the embedded SQLite file (WAL), or a shared PostgreSQL database (``url``, docs/history.md).
    Relative paths are relative to the config file."""

    path: Path = Field(default=Path("pue-history.sqlite"), description="SQLite database file (unused with url)")
    raw_retention_days: float = Field(
        default=35.0, gt=0, le=3650, description="keep per-interval rows this long; rollups are kept"
    )
    url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL instead of SQLite: postgresql://user@host:5432/dbname (a secret: a password may be in "
        "it; never printed)",
    )
    password: SecretStr | None = Field(default=None, description="PostgreSQL password when not in url (a secret)")
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the PostgreSQL password (instead of password)",
    )
    agent_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="this agent's key in a shared PostgreSQL history (default: main, or shard-I-of-N with --shard)",
    )

    @model_validator(mode="after")
    def _postgres(self) -> HistoryConfig:
        if self.url is not None:
            text = self.url.get_secret_value()
            if not text.startswith(("postgresql://", "postgres://")):
                raise ValueError("url must start with postgresql:// (the SQLite file is path)")
        elif self.password is not None or self.password_env is not None:
            raise ValueError("password / password_env are for a PostgreSQL url; give url too")
        if self.password is not None and self.password_env is not None:
            raise ValueError("give password or password_env, not both")
        return self


class GreenElectricity(_Strict):
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


class DieselEntry(_Strict):
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


class CarbonConfig(_Strict):
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


class ExplorationConfig(_Strict):
    """Learning on a site that never varied a setpoint: small, bounded, reversible steps (models/exploration.py).

    Each step changes one setpoint, goes through the same guarded write (and, in ``approve`` mode, the same
    approval) as a recommendation, and is reverted on an inlet breach like any write. Exploration stops when the
    model's data support covers ``target_support_fraction`` of the planned lattice and its hold-out errors are
    below the targets; then the recommender takes over. See docs/recommender.md, "Exploration".
    """

    enabled: bool = Field(default=False, description="explore around the current setpoints until the model has support")
    mode: Literal["approve", "auto"] = Field(
        default="approve",
        description="approve: each step waits for an operator (like a recommendation); auto: written at once",
    )
    step_k: float = Field(
        default=1.0, gt=0, le=3.0, description="spacing of the explored lattice [K], rounded up to the writable step"
    )
    max_move_k: float = Field(default=2.0, gt=0, le=5.0, description="largest change of one setpoint in one step [K]")
    hold_h: float = Field(default=2.0, ge=0.25, le=24.0, description="time each new lattice point is held [h]")
    settle_h: float = Field(default=0.25, ge=0, le=6.0, description="time a point on the way is held [h]")
    inlet_margin_k: float = Field(
        default=1.0, ge=0, le=10.0, description="hottest inlet + predicted rise stays this far below inlet_limit_c [K]"
    )
    coil_approach_k: float = Field(
        default=5.0,
        ge=0,
        le=15.0,
        description="chilled water stays at most supply air minus this (the CRAH coil approach) [K]",
    )
    explore_economizer: bool = Field(default=True, description="explore the other economizer state as well")
    explore_colder_k: float = Field(
        default=1.0,
        ge=0,
        le=10.0,
        description="how far below the current setpoints to explore [K] (colder never saves)",
    )
    avoid_peak_h: float = Field(
        default=6.0, ge=0, le=23.0, description="no step in this many hours around the day's warmest hour [h]"
    )
    safe_hours: tuple[int, ...] | None = Field(
        default=None, description="site-local hours 0-23 when steps may be taken (overrides avoid_peak_h)"
    )
    target_support_fraction: float = Field(
        default=0.9, gt=0, le=1, description="share of the lattice the model's support must cover to stop"
    )
    max_inlet_mae_c: float = Field(default=0.3, gt=0, description="hold-out inlet error below which to stop [K]")
    max_facility_mape_percent: float = Field(
        default=1.5, gt=0, description="hold-out facility power error below which to stop [%]"
    )
    seed: int = Field(default=0, ge=0, description="seed of the order within each ring (deterministic plans)")

    @field_validator("safe_hours")
    @classmethod
    def _hours(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and (not value or not all(0 <= h <= 23 for h in value)):
            raise ValueError("safe_hours: a non-empty list of hours 0-23")
        return value


class RecommenderConfig(_Strict):
    """Cooling recommendations and (optionally) guarded setpoint writes.

    ``advise`` (default) only recommends; ``approve`` waits for an operator to approve each
    recommendation (CLI or API), ``auto`` applies within the guardrails. Writes go only through
    profiles' declared writable setpoints with the devices' ``write_credentials``.
    """

    mode: Literal["off", "advise", "approve", "auto"] = Field(
        default="advise", description="off, advise (recommend only), approve (write after approval), auto"
    )
    model_dir: Path | None = Field(default=None, description="a model saved by `pue-agent model fit`")
    inlet_limit_c: float = Field(default=27.0, ge=15.0, le=35.0, description="ASHRAE recommended maximum")
    max_step_c: float = Field(default=1.0, gt=0, le=5.0, description="largest setpoint change in one step [C]")
    max_change_per_h_c: float = Field(
        default=3.0, gt=0, le=20.0, description="largest total setpoint change within an hour [C]"
    )
    economizer_min_dwell_s: float = Field(
        default=1200.0, ge=0, description="least time between economizer switches [s]"
    )
    min_confidence: float = Field(
        default=0.6, ge=0, le=1, description="least probability that the saving is real for a change"
    )
    min_savings_w: float = Field(default=0.0, ge=0, description="least predicted saving for a change [W]")
    min_savings_fraction: float = Field(
        default=0.004,
        ge=0,
        lt=1,
        description="least predicted saving for a change as a fraction of facility power (the larger of the two "
        "applies); smaller moves mostly chase noise and come back",
    )
    settle_intervals: int = Field(
        default=3, ge=1, le=100, description="healthy site ticks after which written setpoints become known-good"
    )
    revert_after_bad_ticks: int = Field(
        default=1,
        ge=1,
        le=10,
        description="site ticks in a row with stale or incomplete data before written setpoints are reverted "
        "(1: at once; raise it on a lossy network so one lost poll does not undo the last change); "
        "a rack inlet above the limit always reverts at once",
    )
    pending_expiry_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="approve mode: a pending recommendation not approved this long after its offer expires "
        "(default: 4 site intervals, poll_interval_s)",
    )
    action_log: Path = Field(
        default=Path("pue-actions.jsonl"), description="JSON-lines audit log of recommendations, writes, reverts"
    )
    retrain_interval_h: float = Field(default=24.0, gt=0, description="retrain from the history store this often")
    retrain_window_days: float = Field(default=28.0, gt=0, description="history used by each retraining")
    exploration: ExplorationConfig = Field(
        default_factory=ExplorationConfig, description="exploration for a site whose history never varied a setpoint"
    )
    levers: list[LeverConfig] = Field(default_factory=list, description="optional plant levers (config/levers.py)")

    @model_validator(mode="after")
    def _exploration_writes(self) -> RecommenderConfig:
        if self.exploration.enabled and self.mode not in ("approve", "auto"):
            raise ValueError(
                f"exploration.enabled needs recommender.mode approve or auto (it writes setpoints), not {self.mode!r}"
            )
        return self

    retrain_holdout_days: float = Field(
        default=2.0,
        gt=0,
        description="most recent history held out of each retraining: the retrained model replaces the current "
        "one only if it predicts these rows (those the current model never saw) at least as well [d]",
    )
    retrain_swap_inlet_tolerance_c: float = Field(
        default=0.05,
        ge=0,
        le=2.0,
        description="how much worse a retrained model's hottest-inlet hold-out MAE may be and still swap in [K]",
    )
    retrain_model_dir: Path | None = Field(
        default=None,
        description="where a swapped-in retrained model is saved with swaps.jsonl, the log of every "
        "champion/challenger decision, and loaded from at start once it holds one (default: model_dir)",
    )
    realised_settle_s: float = Field(
        default=900.0,
        ge=0,
        allow_inf_nan=False,
        description="after an applied change, wait this long before measuring what it saved [s]",
    )
    realised_window_s: float = Field(
        default=3600.0,
        gt=0,
        allow_inf_nan=False,
        description="measure an applied change's realised saving over this long after it settled, against the "
        "same time before it [s]",
    )
    realised_log: Path | None = Field(
        default=None,
        description="JSON lines of every applied change's realised and predicted saving; read back at start "
        "(day and month sums survive a restart) (default: beside action_log, NAME.realised.jsonl)",
    )
    poor_realisations_to_pause: int = Field(
        default=3,
        ge=0,
        le=100,
        description="applied changes in a row realising less than predicted by more than twice their uncertainty "
        "before the controller pauses (0: never)",
    )
    poor_realisation_pause_h: float = Field(
        default=24.0,
        gt=0,
        allow_inf_nan=False,
        description="how long that pause lasts, unless a retrained model is swapped in first [h]",
    )

    @model_validator(mode="after")
    def _holdout_inside_window(self) -> RecommenderConfig:
        if self.retrain_holdout_days >= self.retrain_window_days:
            raise ValueError(
                f"retrain_holdout_days ({self.retrain_holdout_days:g}) must be shorter than retrain_window_days "
                f"({self.retrain_window_days:g}): the retrained model is fitted on the rows before the hold-out"
            )
        return self


class Site(_Strict):
    """The site as reports and dashboards name it, and who it is reported for and by (the report's cover)."""

    name: Name = Field(default="site", description="site name in reports and the agent's page")
    display_name: str | None = Field(default=None, description="the site's name on reports (default: name)")
    owner: str | None = Field(default=None, description="the organisation operating the site")
    address: str | None = Field(default=None, description="the site's address on the report's cover")
    report_number_prefix: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", description="e.g. GY-PUE: GY-PUE-2026-<hash>"
    )
    preparer: str | None = Field(default=None, description="who prepares the report (its cover)")
    reviewer: str | None = Field(default=None, description="who reviews the report (its cover)")
    pue_target: float = Field(default=1.3, ge=1.0, le=5.0, description="PUE target (pue_site_pue_target)")
    timezone: str = Field(default="UTC", description="IANA time zone of report periods (a Guizhou site: Asia/Shanghai)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value != "UTC":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai, or UTC)") from None
        return value


class PlausiblePue(_Strict):
    """The PUE range a real site falls in: a realtime or interval PUE outside it is a meter or topology
    fault, exported as invalid with the reason instead of as a number."""

    min: float = Field(default=1.0, ge=1.0, description="ISO/IEC 30134-2: PUE is at least 1")
    max: float = Field(default=3.0, gt=1.0, le=100.0, description="a higher PUE is a fault, not a value")

    @model_validator(mode="after")
    def _ordered(self) -> PlausiblePue:
        if self.min >= self.max:
            raise ValueError(f"min {self.min:g} must be below max {self.max:g}")
        return self


class SiteConfig(_Strict):
    """The whole site config file."""

    site: Site = Field(default=Site(), description="name, PUE target, time zone")
    poll_interval_s: float = Field(default=15.0, ge=1.0, le=3600.0, description="how often every device is polled [s]")
    stale_after_intervals: float = Field(
        default=2.0, ge=1.0, le=10.0, description="a device is stale after this many intervals without success"
    )
    pue_window_s: float = Field(default=900.0, ge=60.0, description="window of the energy-based interval PUE")
    plausible_pue: PlausiblePue = Field(default=PlausiblePue(), description="PUE range a real site falls in")
    max_concurrency: int = Field(default=64, ge=1, le=4096, description="devices polled at the same time")
    listen: Listen = Field(default=Listen(), description="address and port of /metrics and the API")
    web: WebConfig | None = Field(
        default=None, description="TLS and basic auth of the endpoint (Prometheus web.config keys)"
    )
    exporter: ExporterConfig = Field(default=ExporterConfig(), description="which series /metrics exports")
    profile_dirs: tuple[Path, ...] = Field(
        default=(), description="more folders of device profiles (site-specific ones), beside the shipped ones"
    )
    history: HistoryConfig | None = Field(default=None, description="embedded history store (reports, retraining)")
    recommender: RecommenderConfig | None = Field(
        default=None, description="cooling recommendations and guarded setpoint writes"
    )
    carbon: CarbonConfig | None = Field(default=None, description="grid emission factor of reports and CUE")
    tariff: TariffConfig | None = Field(
        default=None, description="time-of-use electricity tariff: energy cost by peak/flat/valley period"
    )
    credentials: dict[Name, Credentials] = Field(
        default_factory=dict,
        description="named credentials devices refer to: SNMP ones and Redfish BMC accounts (none: a Modbus-only site)",
    )
    devices: tuple[DeviceConfig, ...] = Field(min_length=1, description="the devices to poll")
    topology: Topology = Field(description="which meters sum to facility, IT and the other boundaries")
    meters: tuple[MeterEntry, ...] = Field(default=(), description="the meter register (agent.config.audit)")
    bills: tuple[UtilityBill, ...] = Field(default=(), description="utility bills the report reconciles against")

    # name -> device, built on first use; keyed by the ``devices`` tuple it was built from, because
    # ``model_copy(update={"devices": ...})`` copies private attributes along with the rest
    _device_index: tuple[tuple[DeviceConfig, ...], dict[str, DeviceConfig]] | None = PrivateAttr(default=None)

    def device(self, name: str) -> DeviceConfig:
        """The device called ``name`` (KeyError if none): a dict lookup, as every poll asks."""
        index = self._device_index
        if index is None or index[0] is not self.devices:
            index = self._device_index = (self.devices, {dev.name: dev for dev in self.devices})
        return index[1][name]


def _loc(loc: Iterable[Any], data: Any) -> str:
    """Readable path: devices[2].address (with the device name when known)."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            name = (
                node[item].get("name")
                if isinstance(node, list) and item < len(node) and isinstance(node[item], dict)
                else None
            )
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]" + (f"({name})" if name else "")]
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            if item in ("V2cCredentials", "V3Credentials", "1", "2c", "3", "v2c", "redfish") and not (
                isinstance(node, dict) and item in node
            ):
                continue  # pydantic's discriminator tag, not a key of the file
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "<top>"


def _text(value: Any) -> str | None:
    """A reference as written, or None when it is not a string (the schema check reports that)."""
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cross_check(data: dict[str, Any], profiles: ProfileRegistry) -> list[str]:
    """Cross-references, checked on the raw mapping so they are reported even beside schema errors."""
    problems: list[str] = []
    creds = _dict(data.get("credentials"))
    devices = (
        [d for d in data.get("devices") or [] if isinstance(d, dict)] if isinstance(data.get("devices"), list) else []
    )
    uses = Counter(str(d.get("name")) for d in devices)
    for dup in sorted(name for name, count in uses.items() if count > 1):
        problems.append(f"devices: device name {dup!r} used more than once")
    by_name = {str(d.get("name")): d for d in devices}
    for i, dev in enumerate(devices):
        where = f"devices[{i}]({dev.get('name')})"
        for key in ("credentials", "write_credentials"):
            ref = _text(dev.get(key))
            if ref is not None and ref not in creds:
                problems.append(f"{where}.{key}: unknown credentials {ref!r}")
        read_ref, write_ref = dev.get("credentials"), dev.get("write_credentials")
        if isinstance(write_ref, str) and (
            write_ref == read_ref
            or _same_principal(creds.get(read_ref) if isinstance(read_ref, str) else None, creds.get(write_ref))
        ):
            problems.append(
                f"{where}.write_credentials: must differ from the read credentials "
                "(another community or SNMPv3 user, read-only on the device for reads)"
            )
        profile = _text(dev.get("profile"))
        if profile is not None and profile not in profiles:
            problems.append(f"{where}.profile: unknown profile {profile!r} (known: {', '.join(profiles.names())})")
        elif profile is not None:
            protocol = profiles[profile].protocol
            if protocol == "snmp" and dev.get("credentials") is None:
                problems.append(f"{where}.credentials: an SNMP device needs read credentials")
            if protocol != "bacnet" and dev.get("bacnet") is not None:
                problems.append(f"{where}.bacnet: belongs to a BACnet device (profile {profile!r} speaks {protocol})")
            if protocol == "bacnet" and dev.get("unit_id") is not None:
                problems.append(f"{where}.unit_id: belongs to a Modbus device (profile {profile!r} speaks BACnet)")
            if protocol == "snmp" and dev.get("unit_id") is not None:
                problems.append(f"{where}.unit_id: belongs to a Modbus device (profile {profile!r} speaks SNMP)")
            kind = _credentials_tag(creds.get(read_ref)) if isinstance(read_ref, str) else None
            if protocol == "redfish" and read_ref is None:
                problems.append(f"{where}.credentials: a Redfish device needs credentials (protocol: redfish)")
            elif protocol == "redfish" and kind not in (None, "redfish"):
                problems.append(
                    f"{where}.credentials: {read_ref!r} are SNMP credentials; a Redfish device needs "
                    "protocol: redfish ones"
                )
            elif protocol == "snmp" and kind == "redfish":
                problems.append(
                    f"{where}.credentials: {read_ref!r} are Redfish credentials; profile {profile!r} speaks SNMP"
                )
            if protocol == "redfish" and dev.get("unit_id") is not None:
                problems.append(f"{where}.unit_id: belongs to a Modbus device (profile {profile!r} speaks redfish)")
            if protocol == "redfish" and dev.get("write_credentials") is not None:
                problems.append(f"{where}.write_credentials: profile {profile!r} speaks redfish, which writes nothing")
            if protocol in ("modbus", "bacnet"):
                for key in ("credentials", "write_credentials"):
                    if dev.get(key) is not None:
                        problems.append(f"{where}.{key}: profile {profile!r} speaks {protocol}, which has no {key}")
    topo = _dict(data.get("topology"))
    boundaries: list[tuple[str, Any, str]] = [(b, topo.get(b), "active_power_w") for b in ("facility", "it", "cooling")]
    boundaries += [(b.name, topo.get(b.name), b.power_quantity) for b in OPTIONAL_BOUNDARIES]
    for zone, spec in _dict(topo.get("zones")).items():
        for part in ("it", "overhead"):
            boundaries.append((f"zones.{zone}.{part}", _dict(spec).get(part), "active_power_w"))
    boundaries.append(("submeters", topo.get("submeters"), "active_power_w"))
    for boundary, terms, default_quantity in boundaries:
        for j, term in enumerate(terms if isinstance(terms, list) else []):
            if not isinstance(term, dict):
                continue
            where = f"topology.{boundary}[{j}]"
            if boundary != "facility" and term.get("energy_type") is not None:
                problems.append(
                    f"{where}.energy_type: only facility terms have an energy type (they partition the facility energy)"
                )
            if boundary == "submeters" and term.get("subsystem") is None and term.get("unit") is None:
                problems.append(f"{where}: a submeter needs a subsystem or a unit tag (else nothing reports it)")
            device = _text(term.get("device"))
            if device is None or device not in by_name:
                problems.append(f"{where}.device: no device named {device!r}")
                continue
            profile = _text(by_name[device].get("profile"))
            quantity = _text(term.get("power_quantity", default_quantity))  # not a string: a schema error
            if (
                quantity is not None
                and profile in profiles
                and quantity not in {o.quantity for o in profiles[str(profile)].objects}
            ):
                problems.append(f"{where}.power_quantity: profile {profile!r} of {device!r} has no {quantity!r}")
    rec = _dict(data.get("recommender"))
    if rec.get("mode") in ("approve", "auto"):
        for i, dev in enumerate(devices):
            profile = _text(dev.get("profile"))
            if (
                profile in profiles
                and any(o.writable for o in profiles[str(profile)].objects)
                and dev.get("role") in ("cooling_unit", "chiller_plant")
                and not dev.get("write_credentials")
            ):
                problems.append(
                    f"devices[{i}]({dev.get('name')}).write_credentials: recommender mode "
                    f"{rec.get('mode')!r} writes setpoints and needs separate write credentials"
                )
    fac = {_text(t.get("device")) for t in _list(topo.get("facility")) if isinstance(t, dict)} - {None}
    it = {_text(t.get("device")) for t in _list(topo.get("it")) if isinstance(t, dict)} - {None}
    for both in sorted(str(d) for d in fac & it):
        problems.append(f"topology: {both!r} is in both facility and it")
    return problems


def _same_principal(read: Any, write: Any) -> bool:
    """Two credential entries that the device cannot tell apart (same community, same v3 user)."""
    if not isinstance(read, dict) or not isinstance(write, dict):
        return False
    if read.get("version") == "3" and write.get("version") == "3":
        return bool(read.get("user")) and read.get("user") == write.get("user")
    if read.get("version") in ("1", "2c") and write.get("version") in ("1", "2c"):
        return read.get("community") is not None and read.get("community") == write.get("community")
    return False


def load_config(path: Path, profiles: ProfileRegistry | None = None) -> tuple[SiteConfig, ProfileRegistry]:
    """Read, validate and cross-check a site config. Raises :class:`ConfigError` listing every problem."""
    where = str(path)
    try:
        data = read_yaml(path)
    except YamlFileError as err:
        raise ConfigError([str(err)]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: <top>: the config must be a YAML mapping"])
    problems: list[str] = []
    cfg: SiteConfig | None = None
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
        # an invalid member of a list also makes pydantic call the list too short: report the member only
        parents = {e["loc"][:i] for e in errors for i in range(1, len(e["loc"]))}
        problems += [
            f"{where}: {_loc(e['loc'], data)}: {_reason(e)}"
            for e in errors
            if not (e["type"] == "too_short" and e["loc"] in parents)
        ]
    if profiles is None:
        extra = _list(data.get("profile_dirs"))
        try:
            profiles = load_profiles((DEFAULT_PROFILE_DIR, *[(path.parent / str(d)) for d in extra]), lazy_shipped=True)
        except ProfileError as err:
            raise ConfigError(
                [*problems, *(f"{where}: profile_dirs: {line}" for line in str(err).splitlines())]
            ) from None
    problems += [f"{where}: {p}" for p in _cross_check(data, profiles)]
    if cfg is not None and any(
        isinstance(c, RedfishCredentials) and c.ca_file is not None for c in cfg.credentials.values()
    ):
        cfg = cfg.model_copy(update={"credentials": _resolve_ca_files(cfg.credentials, path.parent)})
    if cfg is not None and cfg.web is not None:
        cfg = cfg.model_copy(update={"web": resolve_web_paths(cfg.web, path.parent)})
        if cfg.web is not None and cfg.web.tls_server_config is not None:
            try:  # fail fast at start-up: a certificate that cannot be loaded is a config problem
                server_ssl_context(cfg.web.tls_server_config)
            except ConfigError as err:
                problems += [f"{where}: {p}" for p in err.problems]
    if cfg is not None:
        problems += [f"{where}: {p}" for p in check_register(cfg.meters, cfg.bills, {d.name for d in cfg.devices})]
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg, profiles


def _resolve_ca_files(credentials: dict[str, Any], base: Path) -> dict[str, Any]:
    """Redfish ``ca_file`` paths relative to the config file's folder."""
    out = dict(credentials)
    for name, cred in credentials.items():
        if isinstance(cred, RedfishCredentials) and cred.ca_file is not None and not cred.ca_file.is_absolute():
            out[name] = cred.model_copy(update={"ca_file": base / cred.ca_file})
    return out


def _reason(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (not allowed here)"
    if error["type"] == "missing":
        return "required key is missing"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def dump_config(cfg: SiteConfig) -> str:
    """The effective config as JSON with every secret masked (``**********``)."""
    return json.dumps(cfg.model_dump(mode="json"), indent=2, sort_keys=True)
