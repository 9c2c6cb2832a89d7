"""The one exception tree of pue-agent.

::

    PueAgentError
    ├── ConfigError          site config file is invalid (lists every problem)
    ├── ProfileError         a device profile YAML is invalid or unknown
    ├── SnmpError            anything that went wrong talking SNMP to one device
    │   ├── SnmpTimeoutError     no answer within timeout x retries
    │   ├── SnmpAuthError        credentials refused (SNMPv3 USM report, wrong community)
    │   ├── SnmpProtocolError    the device answered with an error-status or garbage
    │   └── SnmpSetRefusedError  a SET was refused by the device (wrongValue, notWritable, ...)
    ├── DecodeError          a device answered, but the value does not fit its profile
    └── WriteGuardError      a setpoint write was blocked by a guardrail before reaching the wire

Library errors (pysnmp, pyasn1) are translated to these at exactly one place, the SNMP adapter
(:mod:`agent.snmp`), with ``raise ... from err``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "ProfileError",
    "PueAgentError",
    "SnmpAuthError",
    "SnmpError",
    "SnmpProtocolError",
    "SnmpSetRefusedError",
    "SnmpTimeoutError",
    "WriteGuardError",
]


class PueAgentError(Exception):
    """Base class of every error pue-agent raises on purpose."""


class ConfigError(PueAgentError):
    """The site config is invalid. ``problems`` holds one line per problem: ``file: path: reason``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ProfileError(PueAgentError):
    """A device profile is invalid or cannot be found."""


class SnmpError(PueAgentError):
    """Talking SNMP to one device failed."""


class SnmpTimeoutError(SnmpError):
    """No response within the configured timeout and retries."""


class SnmpAuthError(SnmpError):
    """The device refused our credentials."""


class SnmpProtocolError(SnmpError):
    """The device answered with an SNMP error-status or a malformed message."""


class SnmpSetRefusedError(SnmpError):
    """A SET request was refused by the device (for example wrongValue for an out-of-range setpoint)."""


class DecodeError(PueAgentError):
    """A value from a device does not fit what its profile declares (type, range)."""


class WriteGuardError(PueAgentError):
    """A setpoint write was refused by a guardrail before it was sent."""
