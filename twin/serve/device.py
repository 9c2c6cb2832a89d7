"""Serve canonical values through a profile: the inverse of :func:`agent.devices.readings.decode_objects`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from agent.config.site import DeviceConfig, RedfishCredentials, SiteConfig, V2cCredentials, V3Credentials
from agent.devices.profiles import Profile, ProfileObject
from agent.devices.quantities import GLOSSARY
from twin.serve.bacnet import BacnetServedDevice
from twin.serve.modbus import ModbusGateway, ModbusProfiledDevice, gateway_for
from twin.serve.pki import BmcTls
from twin.serve.redfish import RedfishProfiledDevice, SimulatedBmc
from twin.serve.responder import SimulatedAgent, WritableRange

__all__ = ["ProfiledDevice", "SimulatedSite", "plausible_defaults", "simulated_agent"]

#: decimal digits a simulated device reports where its profile reads them from the device
SIM_DECIMALS = 1


def _port_error(err: OSError, what: str, handle: Any) -> OSError:
    """``err`` naming the simulated device and port it was raised for (a port another program holds)."""
    where = f"{getattr(handle, 'host', '127.0.0.1')}:{getattr(handle, 'port', '?')} for {what}"
    hint = "; choose other ports (demo: --base-port)" if err.errno == errno.EADDRINUSE else ""
    return OSError(err.errno, f"{err.strerror or err}{hint}", f"simulated site: {where}")


def plausible_defaults(power_w: float, phases: int = 3, volts: float = 230.0) -> dict[str, float]:
    """Values for profile objects a simulation does not model, consistent with ``power_w``."""
    return {
        "voltage_v": volts,
        "frequency_hz": 50.0,
        "current_a": power_w / phases / volts,
        "phase_active_power_w": power_w / phases,
        "apparent_power_va": power_w / 0.97,
        "input_active_power_w": power_w * 1.03,
        "load_ratio": 0.4,
        "battery_temp_c": 24.0,
        "relative_humidity_ratio": 0.45,
        "chw_supply_temp_c": 10.0,
        "chw_return_temp_c": 16.0,
        "valve_position_ratio": 0.5,
        "ambient_temp_c": 24.0,
        "supply_air_setpoint_c": 18.0,
        "return_air_setpoint_c": 30.0,
        "rack_inlet_setpoint_c": 24.0,
        "fan_speed_ratio": 0.6,
        "cooling_capacity_w": power_w,
        "rack_outlet_temp_c": 35.0,
        "outlet_active_power_w": 0.0,
        "outlet_energy_j": 0.0,
        "dew_point_c": 10.0,
        "air_pressure_pa": 88_000.0,
        "phase_apparent_power_va": power_w / phases / 0.97,
        "outlet_apparent_power_va": 0.0,
        "phase_energy_j": 0.0,
        "branch_active_power_w": power_w / phases,
    }


SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def _raw_kind(obj: ProfileObject) -> str:
    return {
        "integer": "integer",
        "gauge32": "gauge32",
        "unsigned32": "gauge32",
        "counter32": "counter32",
        "counter64": "counter64",
        "string_number": "octets",
    }[obj.type or "integer"]


class ProfiledDevice:
    """A simulated device whose MIB is written from canonical readings via its profile."""

    def __init__(
        self,
        name: str,
        profile: Profile,
        agent: SimulatedAgent,
        sys_descr: str | None = None,
        on_setpoint: Callable[[str, float], None] | None = None,
    ) -> None:
        self.name = name
        self.profile = profile
        self.agent = agent
        self._on_setpoint = on_setpoint
        sys_oid = profile.sample_sys_object_id or (profile.detect.sys_object_id_prefixes or ("1.3.6.1.4.1.99999",))[0]
        agent.mib.set(SYS_DESCR, "octets", (sys_descr or f"pue-agent simulated {profile.description}").encode())
        agent.mib.set(SYS_OBJECT_ID, "oid", sys_oid)
        agent.mib.set(SYS_UPTIME, "timeticks", 0)
        if profile.detect.requires_oid:
            agent.mib.set(profile.detect.requires_oid, "integer", 3)
        for obj in profile.objects:
            if obj.writable is not None:
                lo, hi = sorted((obj.encode(obj.writable.min), obj.encode(obj.writable.max)))
                assert obj.oid is not None
                agent.mib.writable[tuple(int(p) for p in obj.oid.split("."))] = WritableRange(
                    lo, hi, self._setpoint_written(obj)
                )

    def _setpoint_written(self, obj: ProfileObject) -> Callable[[str, int], None]:
        def written(_oid: str, raw: int) -> None:
            if self._on_setpoint is not None:
                self._on_setpoint(obj.quantity, obj.decode("integer", raw))

        return written

    def publish(
        self,
        values: Mapping[tuple[str, tuple[tuple[str, str], ...]], float],
        uptime_s: float,
        defaults: Mapping[str, float] | None = None,
    ) -> None:
        """Write canonical values ``{(quantity, labels): value}`` into the MIB via the profile.

        A profile object that no value addresses gets ``defaults[quantity]`` (if given) at its
        first instance (every index label "1"), so that a simulated device answers every object
        of its profile like the real one does.
        """
        self.agent.mib.set(SYS_UPTIME, "timeticks", int(uptime_s * 100) % 2**32)
        # a profile that reads several models (Gude 7213 and 7214 tables) or units (degC and degF rows of
        # one column) is simulated as its first: a later object of the same quantity and labels is skipped
        claimed: set[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]] = set()
        for obj in self.profile.objects:
            wanted = {p.label for p in obj.index if p.label is not None}
            fixed = dict(obj.labels)
            key = (obj.quantity, tuple(sorted(wanted)), tuple(sorted(fixed.items())))
            if key in claimed:
                continue
            written = False
            for (quantity, labels), value in values.items():
                label_map = dict(labels)
                if quantity != obj.quantity or set(label_map) != wanted | set(fixed):
                    continue
                if any(label_map.get(k) != v for k, v in fixed.items()):
                    continue
                self._write(obj, label_map, value)
                written = True
            if not written and defaults is not None and obj.quantity in defaults:
                self._write(obj, {**fixed, **{label: "1" for label in wanted}}, defaults[obj.quantity])
                written = True
            if written:
                claimed.add(key)

    def _write(self, obj: ProfileObject, labels: Mapping[str, str], value: float) -> None:
        oid = obj.instance_oid(labels)
        self.agent.mib.set(oid, _raw_kind(obj), self._raw(obj, value))
        suffix = oid[len(obj.column or "") + 1 :]
        if obj.decimals_column is not None:
            self.agent.mib.set(f"{obj.decimals_column}.{suffix}", "gauge32", SIM_DECIMALS)
        for flt in obj.row_filters:
            if not flt.equals:
                continue  # a 'matches' filter tests a name the simulator does not invent
            first = flt.equals[0]
            where = f"{flt.column}.{suffix}" if flt.column is not None else flt.oid
            assert where is not None
            if isinstance(first, str):
                self.agent.mib.set(where, "octets", first.encode())
            else:
                self.agent.mib.set(where, "integer", first)

    @staticmethod
    def _raw(obj: ProfileObject, value: float) -> int | bytes:
        if obj.type == "string_number":
            return f"{(value - obj.offset) / obj.scale:.1f}".encode()
        if obj.decimals_column is not None:
            raw = round((value - obj.offset) / obj.scale * 10**SIM_DECIMALS)
        else:
            raw = obj.encode(value)
        modulus = obj.wrap_modulus_raw()
        if GLOSSARY[obj.quantity].kind == "counter" and modulus:
            raw %= modulus
        if obj.type in ("gauge32", "unsigned32", "counter32"):
            raw = max(0, raw) % 2**32
        return raw if isinstance(raw, bytes) else int(raw)

    def setpoint(self, quantity: str) -> float | None:
        """Current value of a writable setpoint as the device holds it (canonical units)."""
        obj = self.profile.writable(quantity)
        if obj is None or obj.oid is None:
            return None
        entry = self.agent.mib.values.get(tuple(int(p) for p in obj.oid.split(".")))
        return None if entry is None else obj.decode("integer", entry[1])


def _v3_tuple(cred: V3Credentials) -> tuple[str, str, str, str, str]:
    assert cred.priv_protocol and cred.priv_key, "simulated devices speak v3 authPriv only"
    return (
        cred.user,
        cred.auth_protocol,
        cred.auth_key.get_secret_value(),
        cred.priv_protocol,
        cred.priv_key.get_secret_value(),
    )


def simulated_agent(cfg: SiteConfig, dev: DeviceConfig) -> SimulatedAgent:
    """A responder for one configured device, answering its read and (read-write) write credentials."""
    assert dev.credentials is not None, f"{dev.name}: an SNMP device has read credentials"
    cred = cfg.credentials[dev.credentials]
    assert not isinstance(cred, RedfishCredentials), f"{dev.name}: Redfish credentials on an SNMP device"
    if isinstance(cred, V2cCredentials):
        agent = SimulatedAgent(dev.address, dev.port, cred.community.get_secret_value())
    else:
        agent = SimulatedAgent(dev.address, dev.port, "public", _v3_tuple(cred))
    if dev.write_credentials:
        wcred = cfg.credentials[dev.write_credentials]
        assert not isinstance(wcred, RedfishCredentials), f"{dev.name}: Redfish write credentials"
        if isinstance(wcred, V2cCredentials):
            agent.write_community = wcred.community.get_secret_value()
        else:
            agent.v3_write_user = _v3_tuple(wcred)
    return agent


class SimulatedSite:
    """What every simulated site shares: its devices on loopback, stop/start, and the update loop.

    Subclasses implement ``update()`` (advance the plant, publish through the profiles) and
    ``truth_json()`` (the ground truth a test or the demo compares with).
    """

    #: the SNMP devices, by name
    devices: dict[str, ProfiledDevice]
    #: the Modbus TCP devices (profiles with ``protocol: modbus``), by name, and their gateways
    modbus_devices: dict[str, ModbusProfiledDevice]
    modbus_gateways: dict[tuple[str, int], ModbusGateway]
    #: the BACnet/IP devices (profiles with ``protocol: bacnet``), by name: one bacpypes3 device each
    bacnet_devices: dict[str, BacnetServedDevice]
    #: the servers' BMCs (profiles with ``protocol: redfish``), by name
    redfish_devices: dict[str, RedfishProfiledDevice]

    def add_devices(
        self,
        cfg: SiteConfig,
        profiles: Any,
        on_setpoint: Callable[[str], Callable[[str, float], None] | None] | None = None,
        redfish_tls: BmcTls | None = None,
    ) -> None:
        """Simulate every configured device, each over the protocol its profile speaks.

        Redfish BMCs serve HTTPS with ``redfish_tls``'s certificate (:func:`twin.serve.redfish.make_test_pki`).
        """
        self.devices, self.modbus_devices, self.modbus_gateways = {}, {}, {}
        self.redfish_devices, self.bacnet_devices = {}, {}
        for number, dev in enumerate(cfg.devices):
            profile = profiles[dev.profile]
            if profile.protocol == "bacnet":
                port = dev.port if "port" in dev.model_fields_set else 47808
                handler = on_setpoint(dev.name) if on_setpoint is not None else None
                self.bacnet_devices[dev.name] = BacnetServedDevice(
                    dev.name, profile, dev.address, port, 1000 + number, on_setpoint=handler
                )
                continue
            if profile.protocol == "redfish":
                cred = cfg.credentials[dev.credentials or ""]
                if redfish_tls is None or not isinstance(cred, RedfishCredentials):
                    raise ValueError(f"{dev.name}: a simulated BMC needs redfish_tls and Redfish credentials")
                port = dev.port if "port" in dev.model_fields_set else 443
                bmc = SimulatedBmc(dev.address, port, cred.user, cred.password.get_secret_value(), redfish_tls)
                self.redfish_devices[dev.name] = RedfishProfiledDevice(dev.name, profile, bmc)
                continue
            if profile.protocol == "modbus":
                port = dev.port if "port" in dev.model_fields_set else 502
                gateway = gateway_for(self.modbus_gateways, dev.address, port)
                unit = 1 if dev.unit_id is None else dev.unit_id
                self.modbus_devices[dev.name] = ModbusProfiledDevice(dev.name, profile, gateway, unit)
                continue
            handler = on_setpoint(dev.name) if on_setpoint is not None else None
            self.devices[dev.name] = ProfiledDevice(dev.name, profile, simulated_agent(cfg, dev), on_setpoint=handler)

    def publish_all(self, values: Mapping[str, Mapping[Any, float]], uptime_s: float, defaults: Any) -> None:
        """Every device's values through its profile (a device with none gets the defaults)."""
        for name, device in self.devices.items():
            device.publish(values.get(name, {}), uptime_s, defaults)
        for name, meter in getattr(self, "modbus_devices", {}).items():
            meter.publish(values.get(name, {}), uptime_s, defaults)
        for name, bdev in getattr(self, "bacnet_devices", {}).items():
            bdev.publish(values.get(name, {}), uptime_s, defaults)
        for name, server in getattr(self, "redfish_devices", {}).items():
            server.publish(values.get(name, {}), uptime_s, defaults)

    def _handles(self) -> list[Any]:
        return [handle for _what, handle in self._named_handles()]

    def _named_handles(self) -> list[tuple[str, Any]]:
        """Every served endpoint with what an error about its port names: device and protocol."""
        named = [(f"{n} (SNMP, udp)", d.agent) for n, d in self.devices.items()]
        named += [(f"{n} (Modbus TCP, tcp)", m.agent) for n, m in getattr(self, "modbus_devices", {}).items()]
        named += [(f"{n} (BACnet/IP, udp)", b.agent) for n, b in getattr(self, "bacnet_devices", {}).items()]
        named += [(f"{n} (Redfish, tcp)", r.agent) for n, r in getattr(self, "redfish_devices", {}).items()]
        return named

    def update(self) -> Any:
        raise NotImplementedError

    def truth_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def start(self) -> None:
        for what, handle in self._named_handles():
            try:
                handle.start()
            except OSError as err:
                raise _port_error(err, what, handle) from err

    async def ready(self) -> None:
        """Wait until every Modbus gateway and BACnet device listens (SNMP responders listen once started).

        Every bind under way is awaited, so none is left running when the first failure is raised."""
        modbus = getattr(self, "modbus_devices", {})
        waits = [
            (f"{', '.join(n for n, m in modbus.items() if m.agent.gateway is g)} (Modbus TCP, tcp)", g)
            for g in getattr(self, "modbus_gateways", {}).values()
        ]
        waits += [(f"{n} (BACnet/IP, udp)", b) for n, b in getattr(self, "bacnet_devices", {}).items()]
        failed: OSError | None = None
        for what, endpoint in waits:
            try:
                await endpoint.ready()
            except OSError as err:
                failed = failed or _port_error(err, what, endpoint)
        if failed is not None:
            raise failed

    def stop(self) -> None:
        for handle in self._handles():
            handle.close()

    def _handle(self, name: str) -> Any:
        if name in getattr(self, "modbus_devices", {}):
            return self.modbus_devices[name].agent
        if name in getattr(self, "bacnet_devices", {}):
            return self.bacnet_devices[name].agent
        if name in getattr(self, "redfish_devices", {}):
            return self.redfish_devices[name].agent
        return self.devices[name].agent

    def stop_device(self, name: str) -> None:
        """The device stops answering, as if unplugged (its SNMP engine and state survive)."""
        self._handle(name).stop()

    def start_device(self, name: str) -> None:
        self._handle(name).start()

    @contextlib.asynccontextmanager
    async def serving(self, tick_s: float = 0.5, truth_file: Path | None = None) -> AsyncIterator[None]:
        """The site answering and updating every ``tick_s`` for the duration of the ``async with``."""
        try:
            self.start()
            await self.ready()
        except OSError:  # a port taken: close what did start, once its binds have settled (no stray tasks)
            with contextlib.suppress(OSError):
                await self.ready()
            self.stop()
            raise
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop, tick_s, truth_file))
        try:
            yield
        finally:
            stop.set()
            await task
            self.stop()

    async def run(self, stop: asyncio.Event, tick_s: float = 0.5, truth_file: Path | None = None) -> None:
        """Update every ``tick_s`` until ``stop`` is set; optionally write the truth as JSON each tick."""
        while not stop.is_set():
            self.update()
            if truth_file is not None:
                tmp = truth_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(self.truth_json()))
                tmp.replace(truth_file)
            try:
                await asyncio.wait_for(stop.wait(), timeout=tick_s)
            except TimeoutError:
                pass
