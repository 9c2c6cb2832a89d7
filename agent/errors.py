"""The one exception tree of pue-agent.

::

    PueAgentError
    ├── UsageError           a command-line argument is invalid, or a file it names cannot be written
    ├── ConfigError          site config file is invalid (lists every problem)
    ├── ProfileError         a device profile YAML is invalid or unknown
    ├── DeviceError          anything that went wrong talking to one device, whatever the protocol
    │   ├── DeviceTimeoutError   no answer within timeout x retries
    │   ├── DeviceAuthError      credentials refused
    │   ├── DeviceProtocolError  the device answered with a protocol error or garbage
    │   │   └── DeviceExceptionError the device refused a request with a protocol exception (poll kind "exception")
    │   ├── DeviceGatewayError   a gateway cannot reach the device behind it (wrong unit id; kind "gateway")
    │   ├── DeviceRefusedError   a write was refused by the device
    │   ├── SnmpError            ... talking SNMP; each SNMP error is also its Device* kind:
    │   │   ├── SnmpTimeoutError     (DeviceTimeoutError)
    │   │   ├── SnmpAuthError        (DeviceAuthError: SNMPv3 USM report, wrong community)
    │   │   ├── SnmpProtocolError    (DeviceProtocolError: error-status or garbage)
    │   │   └── SnmpSetRefusedError  (DeviceRefusedError: wrongValue, notWritable, ...)
    │   ├── ModbusError          ... talking Modbus TCP; each is also its Device* kind:
    │   │   ├── ModbusTimeoutError   (DeviceTimeoutError: no answer, connection refused or reset)
    │   │   ├── ModbusProtocolError  (DeviceProtocolError: a malformed or mismatched answer)
    │   │   ├── ModbusExceptionError (DeviceExceptionError: exception codes 1-8, e.g. 2 illegal data address)
    │   │   └── ModbusGatewayError   (DeviceGatewayError: exception codes 10 and 11 from a TCP/RTU gateway)
    │   ├── BacnetError          ... talking BACnet/IP; each is also its Device* kind:
    │   │   ├── BacnetTimeoutError   (DeviceTimeoutError: no answer within timeout x (1 + retries))
    │   │   ├── BacnetProtocolError  (DeviceProtocolError: a Reject or Abort PDU, or a malformed answer)
    │   │   ├── BacnetExceptionError (DeviceExceptionError: an Error PDU, e.g. object: unknown-object)
    │   │   └── BacnetWriteRefusedError (DeviceRefusedError: a WriteProperty answered with an Error PDU)
    │   └── RedfishError         ... talking Redfish (HTTPS) to a server's BMC; each is also its Device* kind:
    │       ├── RedfishTimeoutError  (DeviceTimeoutError: no answer, connection refused or reset)
    │       ├── RedfishAuthError     (DeviceAuthError: 401/403, session refused)
    │       ├── RedfishTlsError      (DeviceProtocolError: the BMC's certificate is not trusted, or TLS failed)
    │       └── RedfishProtocolError (DeviceProtocolError: 404, 5xx, malformed JSON, a property missing)
    ├── DecodeError          a device answered, but the value does not fit its profile
    ├── WriteGuardError      a setpoint write was blocked by a guardrail before reaching the wire
    ├── HistoryFormatError   a site history or conditions CSV is malformed (names file, line, column)
    ├── ModelError           a cooling model cannot be fitted from the data, or a saved one cannot be used
    └── HistoryError         the history store or one of its files (export, import, report)
        ├── HistoryStoreError    the database cannot be opened, read or written (read-only, disk, corrupt)
        │   ├── HistoryBusyError     another connection holds the write lock (retry later; nothing is wrong)
        │   └── HistoryLockedError   another pue-agent already writes this database (its pid and host named)
        ├── ImportFormatError    an imported history file is malformed (every bad row: line and column)
        └── HistoryQueryError    a period, resolution or emission factor asked for is invalid or has no data
            └── HistoryOverlapError  an interval to store overlaps one already stored (``start_s``)

Library errors (pysnmp, pyasn1) are translated to these at exactly one place, the SNMP adapter
(:mod:`agent.devices.snmp.client`), with ``raise ... from err``; pymodbus's at :mod:`agent.devices.modbus.client`;
bacpypes3's at :mod:`agent.devices.bacnet.client`;
urllib3's at :mod:`agent.devices.redfish.client`.
The site and control stages catch only the
``Device*`` kinds, so a second protocol's adapter plugs in without touching them.
"""

from __future__ import annotations

__all__ = [
    "BacnetError",
    "BacnetExceptionError",
    "BacnetProtocolError",
    "BacnetTimeoutError",
    "BacnetWriteRefusedError",
    "ConfigError",
    "DecodeError",
    "DeviceAuthError",
    "DeviceError",
    "DeviceExceptionError",
    "DeviceGatewayError",
    "DeviceProtocolError",
    "DeviceRefusedError",
    "DeviceTimeoutError",
    "HistoryBusyError",
    "HistoryError",
    "HistoryFormatError",
    "HistoryLockedError",
    "HistoryOverlapError",
    "HistoryQueryError",
    "HistoryStoreError",
    "ImportFormatError",
    "ModbusError",
    "ModbusExceptionError",
    "ModbusGatewayError",
    "ModbusProtocolError",
    "ModbusTimeoutError",
    "ModelError",
    "ProfileError",
    "PueAgentError",
    "RedfishAuthError",
    "RedfishError",
    "RedfishProtocolError",
    "RedfishTimeoutError",
    "RedfishTlsError",
    "SnmpAuthError",
    "SnmpError",
    "SnmpProtocolError",
    "SnmpSetRefusedError",
    "SnmpTimeoutError",
    "UsageError",
    "WriteGuardError",
]


class PueAgentError(Exception):
    """Base class of every error pue-agent raises on purpose."""


class UsageError(PueAgentError):
    """Bad command-line input: the message names the argument (``--out x: cannot write: ...``)."""


class ConfigError(PueAgentError):
    """The site config is invalid. ``problems`` holds one line per problem: ``file: path: reason``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ProfileError(PueAgentError):
    """A device profile is invalid or cannot be found."""


class DeviceError(PueAgentError):
    """Talking to one device failed, whatever the protocol (the site and control stages catch this)."""


class DeviceTimeoutError(DeviceError):
    """No response within the configured timeout and retries."""


class DeviceAuthError(DeviceError):
    """The device refused our credentials."""


class DeviceProtocolError(DeviceError):
    """The device answered with a protocol error or a malformed message."""


class DeviceExceptionError(DeviceProtocolError):
    """The device understood the request and refused it with a protocol exception (Modbus codes 1-8)."""


class DeviceGatewayError(DeviceError):
    """A gateway answered for a device behind it that it cannot reach: a wrong unit id, or the device is off-line."""


class DeviceRefusedError(DeviceError):
    """A write was refused by the device (for example an out-of-range setpoint)."""


class SnmpError(DeviceError):
    """Talking SNMP to one device failed."""


class SnmpTimeoutError(SnmpError, DeviceTimeoutError):
    """No response within the configured timeout and retries."""


class SnmpAuthError(SnmpError, DeviceAuthError):
    """The device refused our credentials."""


class SnmpProtocolError(SnmpError, DeviceProtocolError):
    """The device answered with an SNMP error-status or a malformed message."""


class SnmpSetRefusedError(SnmpError, DeviceRefusedError):
    """A SET request was refused by the device (for example wrongValue for an out-of-range setpoint)."""


class ModbusError(DeviceError):
    """Talking Modbus TCP to one device failed."""


class ModbusTimeoutError(ModbusError, DeviceTimeoutError):
    """No answer within the timeout and retries (or the TCP connection was refused or reset)."""


class ModbusProtocolError(ModbusError, DeviceProtocolError):
    """The device answered with a malformed or mismatched message."""


class ModbusExceptionError(ModbusError, DeviceExceptionError):
    """The device answered a read with a Modbus exception code (``code``: 1 illegal function, 2 illegal
    data address, 3 illegal data value, 4 device failure, 6 busy, ...)."""

    def __init__(self, message: str, code: int) -> None:
        self.code = code
        super().__init__(message)


class ModbusGatewayError(ModbusError, DeviceGatewayError):
    """A Modbus TCP gateway answered exception 10 (no path to the unit id) or 11 (the unit did not respond)."""

    def __init__(self, message: str, code: int) -> None:
        self.code = code
        super().__init__(message)


class BacnetError(DeviceError):
    """Talking BACnet/IP to one device failed."""


class BacnetTimeoutError(BacnetError, DeviceTimeoutError):
    """No answer within the device's timeout and retries."""


class BacnetProtocolError(BacnetError, DeviceProtocolError):
    """The device answered with a Reject or Abort PDU, or with something that is not the answer asked for."""


class BacnetExceptionError(BacnetError, DeviceExceptionError):
    """The device answered a read with an Error PDU (``error_class``: ``error_code``, e.g. object: unknown-object)."""

    def __init__(self, message: str, error_class: str, error_code: str) -> None:
        self.error_class = error_class
        self.error_code = error_code
        super().__init__(message)


class BacnetWriteRefusedError(BacnetError, DeviceRefusedError):
    """A WriteProperty was answered with an Error, Reject or Abort (write-access-denied, value-out-of-range)."""


class RedfishError(DeviceError):
    """Talking Redfish (HTTPS) to a server's BMC failed."""


class RedfishTimeoutError(RedfishError, DeviceTimeoutError):
    """No answer within the timeout and retries (or the connection was refused or reset)."""


class RedfishAuthError(RedfishError, DeviceAuthError):
    """The BMC refused our credentials (401/403) or our session."""


class RedfishProtocolError(RedfishError, DeviceProtocolError):
    """The BMC answered 404 or 5xx, a body that is not JSON, or a resource without a property the profile reads."""


class RedfishTlsError(RedfishProtocolError):
    """The TLS handshake failed: the BMC's certificate is not trusted by the configured CA (or not valid)."""


class DecodeError(PueAgentError):
    """A value from a device does not fit what its profile declares (type, range)."""


class WriteGuardError(PueAgentError):
    """A setpoint write was refused by a guardrail before it was sent."""


class HistoryFormatError(PueAgentError):
    """A site history or conditions CSV is malformed; the message names file, line and column."""


class ModelError(PueAgentError):
    """A cooling model cannot be fitted from the data given, or a saved model cannot be used."""


class HistoryError(PueAgentError):
    """Something about the history store or a history file (export, import, report) is wrong."""


class HistoryStoreError(HistoryError):
    """The history database cannot be opened, read or written (read-only file, full disk, corrupt file)."""


class HistoryBusyError(HistoryStoreError):
    """Another connection holds the database's write lock (an import, a backup) beyond the busy timeout.

    Nothing is wrong with the database: the same write succeeds once the lock is released.
    """


class HistoryLockedError(HistoryStoreError):
    """Another pue-agent already writes this history database (the message names its pid and host)."""


class ImportFormatError(HistoryError):
    """An imported history file is malformed; ``problems`` has one ``file:line: column: reason`` per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class HistoryQueryError(HistoryError):
    """A period, resolution or emission factor asked of the history is invalid, or no data covers it."""


class HistoryOverlapError(HistoryQueryError):
    """An interval to store overlaps one already stored; ``start_s`` is the start of the new interval [s]."""

    def __init__(self, message: str, start_s: float) -> None:
        self.start_s = start_s
        super().__init__(message)
