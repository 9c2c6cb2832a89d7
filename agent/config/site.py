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

The sections are modules of their own: ``credentials``, ``devices``, ``topology``, ``outputs`` (listen, exporter,
history), ``carbon``, ``recommender``; ``checks`` holds the cross-references. This module holds the top level,
loads and checks a file, and re-exports every section's public names (import them from here).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from agent.config.audit import MeterEntry, UtilityBill, check_register
from agent.config.base import Name, StrictModel
from agent.config.carbon import CarbonConfig, DieselEntry, GreenElectricity
from agent.config.checks import as_list, cross_check
from agent.config.credentials import Credentials, RedfishCredentials, V2cCredentials, V3Credentials
from agent.config.devices import (
    BACNET_FORBIDDEN_PRIORITIES,
    BACNET_MANUAL_OPERATOR,
    BacnetDeviceSettings,
    DeviceConfig,
    Remap,
    Role,
)
from agent.config.outputs import DEFAULT_LISTEN_PORT, ExporterConfig, HistoryConfig, Listen
from agent.config.recommender import ExplorationConfig, RecommenderConfig
from agent.config.strict_yaml import YamlFileError, read_yaml
from agent.config.tariff import TariffConfig
from agent.config.topology import Topology, TopologyTerm, Zone
from agent.config.web import WebConfig, resolve_web_paths, server_ssl_context
from agent.devices.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry, load_profiles
from agent.errors import ConfigError, ProfileError

__all__ = [
    "BACNET_FORBIDDEN_PRIORITIES",
    "BACNET_MANUAL_OPERATOR",
    "DEFAULT_LISTEN_PORT",
    "BacnetDeviceSettings",
    "CarbonConfig",
    "Credentials",
    "DeviceConfig",
    "DieselEntry",
    "ExplorationConfig",
    "ExporterConfig",
    "GreenElectricity",
    "HistoryConfig",
    "Listen",
    "Name",
    "PlausiblePue",
    "RecommenderConfig",
    "RedfishCredentials",
    "Remap",
    "Role",
    "Site",
    "SiteConfig",
    "Topology",
    "TopologyTerm",
    "V2cCredentials",
    "V3Credentials",
    "Zone",
    "dump_config",
    "load_config",
]


class Site(StrictModel):
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


class PlausiblePue(StrictModel):
    """The PUE range a real site falls in: a realtime or interval PUE outside it is a meter or topology
    fault, exported as invalid with the reason instead of as a number."""

    min: float = Field(default=1.0, ge=1.0, description="ISO/IEC 30134-2: PUE is at least 1")
    max: float = Field(default=3.0, gt=1.0, le=100.0, description="a higher PUE is a fault, not a value")

    @model_validator(mode="after")
    def _ordered(self) -> PlausiblePue:
        if self.min >= self.max:
            raise ValueError(f"min {self.min:g} must be below max {self.max:g}")
        return self


class SiteConfig(StrictModel):
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
        # the private dict read directly: ``self._device_index`` goes through pydantic's ``__getattr__``
        private = self.__pydantic_private__
        assert private is not None
        index: tuple[tuple[DeviceConfig, ...], dict[str, DeviceConfig]] | None = private["_device_index"]
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
        extra = as_list(data.get("profile_dirs"))
        try:
            profiles = load_profiles((DEFAULT_PROFILE_DIR, *[(path.parent / str(d)) for d in extra]), lazy_shipped=True)
        except ProfileError as err:
            raise ConfigError(
                [*problems, *(f"{where}: profile_dirs: {line}" for line in str(err).splitlines())]
            ) from None
    problems += [f"{where}: {p}" for p in cross_check(data, profiles)]
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
