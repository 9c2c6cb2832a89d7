"""``pue-agent read https://HOST[:PORT]``: one server's BMC over Redfish, by hand, before it goes into a config.

The account comes from ``--bmc-user`` and the password only from ``$PUE_BMC_PASSWORD`` (a command line is
visible to every user of the host in ``ps``); certificate verification is on (``--ca-file`` names the CA).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import SecretStr

from agent.devices.redfish.adapter import RedfishDevices
from agent.devices.redfish.client import RedfishTarget
from agent.errors import UsageError

__all__ = ["read_redfish"]


async def read_redfish(args: argparse.Namespace, registry: Any) -> tuple[Any, Any]:
    """``https://HOST[:PORT]`` with ``--profile`` and ``--bmc-user``; the password from $PUE_BMC_PASSWORD."""
    url = urlparse(args.url)
    if not url.hostname or not args.profile or not args.bmc_user:
        raise UsageError(f"a BMC is read as https://HOST[:PORT] --profile NAME --bmc-user USER, got {args.url!r}")
    password = os.environ.get("PUE_BMC_PASSWORD")
    if not password:
        raise UsageError(
            "give the BMC password in the environment variable PUE_BMC_PASSWORD (never on the command line)"
        )
    try:
        port = url.port or 443
    except ValueError:
        raise UsageError(f"bad port in {args.url!r}") from None
    profile = registry[args.profile]
    if profile.protocol != "redfish":
        raise UsageError(f"profile {profile.name!r} speaks {profile.protocol}, not Redfish")
    ca_file = Path(args.ca_file) if args.ca_file else None
    target = RedfishTarget(
        url.hostname, port, args.bmc_user, SecretStr(password), args.bmc_auth, ca_file, True, args.timeout, args.retries
    )
    adapter = RedfishDevices(None)
    try:
        return profile, await adapter.read_target("read", target, profile)
    finally:
        await adapter.close()
