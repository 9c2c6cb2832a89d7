"""Device profiles: what a device model exposes, as YAML data (``configs/profiles/*.yaml``).

A profile names numeric OIDs (with a ``# MIB::object`` comment in the YAML), the SNMP type, the
scale/offset to the canonical SI quantity, how table indexes map to labels, which objects are
writable setpoints (with bounds), and how to recognise the device (sysObjectID prefix, sysDescr
pattern). Adding a vendor is adding a YAML file; no Python changes.

Example (one scalar and one table column)::

    name: apc-rpdu2
    detect: {sys_object_id_prefixes: ["1.3.6.1.4.1.318.1.3.4"]}
    objects:
      - quantity: active_power_w
        oid: 1.3.6.1.4.1.318.1.1.26.4.3.1.5.1   # PowerNet-MIB::rPDU2DeviceStatusPower.1
        type: integer
        scale: 10                                 # hundredths of kW -> W
      - quantity: current_a
        column: 1.3.6.1.4.1.318.1.1.12.2.3.1.1.2 # PowerNet-MIB::rPDULoadStatusLoad
        index: [{label: phase}]
        type: gauge32

The schema is split by concern: ``base`` (the strict base, OID checks, writable bounds, counters), one
module per protocol's addressing (``snmp``, ``modbus``, ``bacnet``, ``redfish``), ``objects`` (one object ->
one quantity, decoding), ``profile`` (the whole profile and its cross-object checks) and ``loading`` (files,
``extends``, the registry). Import from here: every public name is re-exported.
"""

from agent.devices.profiles.bacnet import BACNET_COMMANDABLE, BacnetObjectType, BacnetPoint, BacnetSettings
from agent.devices.profiles.base import Counter, Writable
from agent.devices.profiles.loading import (
    DEFAULT_PROFILE_DIR,
    ProfileRegistry,
    load_profile,
    load_profiles,
    profile_cache,
)
from agent.devices.profiles.modbus import MODBUS_WORDS, MODBUS_WRAP, ModbusDataType, ModbusRegister, ModbusSettings
from agent.devices.profiles.objects import ProfileObject
from agent.devices.profiles.profile import Profile
from agent.devices.profiles.redfish import RedfishProperty
from agent.devices.profiles.snmp import (
    ACCEPTED_KINDS,
    WRAP_MODULUS,
    Detect,
    IndexPart,
    RowFilter,
    ScaleColumn,
    SnmpType,
)

__all__ = [
    "ACCEPTED_KINDS",
    "BACNET_COMMANDABLE",
    "DEFAULT_PROFILE_DIR",
    "MODBUS_WORDS",
    "MODBUS_WRAP",
    "WRAP_MODULUS",
    "BacnetObjectType",
    "BacnetPoint",
    "BacnetSettings",
    "Counter",
    "Detect",
    "IndexPart",
    "ModbusDataType",
    "ModbusRegister",
    "ModbusSettings",
    "Profile",
    "ProfileObject",
    "ProfileRegistry",
    "RedfishProperty",
    "RowFilter",
    "ScaleColumn",
    "SnmpType",
    "Writable",
    "load_profile",
    "load_profiles",
    "profile_cache",
]
