"""The SNMP adapter behind the device seam: :class:`SnmpDevices` reads profiles and writes setpoints.

It turns a device's config into an :class:`~agent.devices.snmp.seam.SnmpTarget` (:func:`target_for`: the
one place a credential's secret leaves its ``SecretStr``) and reads through
:func:`~agent.devices.readings.read_device`.
"""

from __future__ import annotations

from agent.config.site import DeviceConfig, RedfishCredentials, SiteConfig, V2cCredentials
from agent.devices.profiles import Profile, ProfileObject
from agent.devices.readings import DeviceReadout, read_device
from agent.devices.snmp.seam import AUTH_PROTOCOL_NAMES, PRIV_PROTOCOL_NAMES, SnmpClient, SnmpTarget, V2cAuth, V3Auth
from agent.errors import ConfigError

__all__ = ["SnmpDevices", "target_for"]


def target_for(cfg: SiteConfig, device: DeviceConfig, *, write: bool = False) -> SnmpTarget:
    """The adapter-level target of a device; secrets leave their SecretStr only here."""
    cred_name = device.write_credentials if write else device.credentials
    if cred_name is None and write:
        raise ConfigError([f"devices({device.name}).write_credentials: none configured; writes need their own"])
    if cred_name is None:
        raise ConfigError([f"devices({device.name}).credentials: none configured; SNMP needs read credentials"])
    cred = cfg.credentials[cred_name]
    auth: V2cAuth | V3Auth
    if isinstance(cred, RedfishCredentials):
        raise ConfigError([f"devices({device.name}).credentials: {cred_name!r} are Redfish credentials, not SNMP"])
    if isinstance(cred, V2cCredentials):
        auth = V2cAuth(cred.community.get_secret_value(), cred.version)
    else:
        assert cred.auth_protocol in AUTH_PROTOCOL_NAMES
        assert cred.priv_protocol is None or cred.priv_protocol in PRIV_PROTOCOL_NAMES
        auth = V3Auth(
            cred.user,
            cred.auth_protocol,
            cred.auth_key.get_secret_value(),
            cred.priv_protocol,
            cred.priv_key.get_secret_value() if cred.priv_key else None,
            cred.context,
        )
    return SnmpTarget(device.address, device.port, auth, device.timeout_s, device.retries)


class SnmpDevices:
    """:class:`~agent.devices.reader.DeviceAdapter` over one :class:`SnmpClient` (one engine, many devices)."""

    def __init__(self, cfg: SiteConfig, client: SnmpClient) -> None:
        self._cfg = cfg
        self.client = client
        # devices of other protocols have no SNMP credentials (Modbus: none; Redfish: a BMC account)
        self._targets = {
            d.name: target_for(cfg, d)
            for d in cfg.devices
            if d.credentials is not None and not isinstance(cfg.credentials.get(d.credentials), RedfishCredentials)
        }

    def _target(self, device: DeviceConfig) -> SnmpTarget:
        target = self._targets.get(device.name)
        return target if target is not None else target_for(self._cfg, device)

    async def read(self, device: DeviceConfig, profile: Profile) -> DeviceReadout:
        return await read_device(self.client, self._target(device), profile)

    async def read_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> float | None:
        assert obj.oid is not None
        value = (await self.client.get(self._target(device), [obj.oid]))[0]
        if value.missing or not isinstance(value.value, int):
            return None
        return obj.decode(value.kind, value.value)

    async def write_setpoint(self, device: DeviceConfig, obj: ProfileObject, raw: int) -> None:
        assert obj.oid is not None
        await self.client.set(target_for(self._cfg, device, write=True), obj.oid, raw)

    async def close(self) -> None:
        await self.client.close()
