"""The ``pue-agent`` command line.

Exit status: 0 success, 1 runtime failure (device unreachable, ...), 2 bad input (config,
arguments, files), 130 interrupted (Ctrl-C), as every command here documents.

Start-up stays under half a second (``bench/cli.py``): building the parser imports no pydantic model, no
numpy, scikit-learn, matplotlib or pysnmp (``tests/core/test_cli_startup.py``); each command imports what
it needs when it runs.

One module (over 400 lines): the parser's top level, the exit-status contract, ``check-config`` and ``read`` (a
few lines each around shared target parsing) and ``run``'s config loading; the work of ``run`` and of every other
command is in a module of its own (``run.py``, ``history_cli.py``, ``model_cli.py``, ...).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from agent import __version__
from agent.devices.snmp.seam import AUTH_PROTOCOL_NAMES, PRIV_PROTOCOL_NAMES
from agent.errors import (
    ConfigError,
    HistoryError,
    HistoryFormatError,
    ModelError,
    ProfileError,
    PueAgentError,
    UsageError,
)

if TYPE_CHECKING:
    from agent.devices.snmp.seam import SnmpTarget
    from agent.site.shard import Shard

__all__ = ["main"]

#: feature packages that add their own sub-commands with ``register(subparsers)``
SUBCOMMAND_MODULES = ("agent.app.model_cli", "agent.app.history_cli", "agent.app.onboard_cli", "agent.app.approve_cli")
#: packages beside the agent (the simulated site) add theirs through this entry-point group
COMMAND_ENTRY_POINTS = "pue_agent.commands"

log = logging.getLogger("pue-agent")

#: what every sub-command reports as bad input (exit status 2), one line each, never a traceback
BAD_INPUT_ERRORS = (UsageError, ConfigError, ProfileError, HistoryError, HistoryFormatError, ModelError)


#: the loggers that are ours: INFO by default, DEBUG with -v; every other library's stay at WARNING unless -vv
OWN_LOGGERS = ("pue-agent", "agent", "models", "twin")


def _setup_logging(verbose: int) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose < 2:
        # overrun polls are counted in pue_device_polls_skipped_total instead of a warning per skip
        logging.getLogger("apscheduler").setLevel(logging.ERROR)


# --- check-config ----------------------------------------------------------------------------
def cmd_check_config(args: argparse.Namespace) -> int:
    from agent.config.site import dump_config, load_config

    try:
        cfg, _profiles = load_config(Path(args.config))
    except ConfigError as err:
        print(f"{args.config}: {len(err.problems)} problem(s):", file=sys.stderr)
        for line in err.problems:
            print(f"  {line}", file=sys.stderr)
        return 2
    if args.dump:
        print(dump_config(cfg))
    else:
        print(f"{args.config}: OK ({len(cfg.devices)} devices, IT category {cfg.topology.it_category})")
    return 0


# --- read ------------------------------------------------------------------------------------
def check_host(host: str, given: str) -> None:
    """An IP address or a host name the resolver can be asked (a 64-character label failed inside socket)."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    try:
        host.encode("idna")
    except UnicodeError:
        raise UsageError(f"bad host name in {given!r} (labels of 1-63 characters)") from None


def _target_from_args(args: argparse.Namespace) -> SnmpTarget:
    from urllib.parse import urlparse

    from agent.devices.snmp.seam import SnmpTarget, V2cAuth, V3Auth

    url = urlparse(args.url)
    if url.scheme != "udp" or not url.hostname:
        raise UsageError(f"device URL must look like udp://HOST:PORT, got {args.url!r}")
    try:
        port = url.port or 161
    except ValueError:
        raise UsageError(f"bad port in {args.url!r}") from None
    check_host(url.hostname, args.url)
    auth: V2cAuth | V3Auth
    if args.v3_user:
        if not (args.auth_protocol and args.auth_key):
            raise UsageError("SNMPv3 needs --auth-protocol and --auth-key (protocols are never implied)")
        if bool(args.priv_protocol) != bool(args.priv_key):
            raise UsageError("--priv-protocol and --priv-key go together")
        auth = V3Auth(
            args.v3_user, args.auth_protocol, args.auth_key, args.priv_protocol, args.priv_key, args.v3_context
        )
    elif args.community:
        auth = V2cAuth(args.community)
    else:
        raise UsageError("give --community (v2c) or --v3-user with its protocols and keys")
    return SnmpTarget(url.hostname, port, auth, args.timeout, args.retries)


async def _read_named(args: argparse.Namespace, registry: Any) -> tuple[Any, Any]:
    """``modbus://HOST[:PORT][/UNIT]`` or ``bacnet://HOST[:PORT]`` with ``--profile``: neither protocol has
    detection (no sysObjectID), the profile is named."""
    from agent.config.site import DeviceConfig
    from agent.devices.bacnet.adapter import BacnetDevices
    from agent.devices.modbus.adapter import ModbusDevices

    url = urlparse(args.url)
    protocol = url.scheme
    form = "modbus://HOST[:PORT][/UNIT]" if protocol == "modbus" else "bacnet://HOST[:PORT]"
    if not url.hostname or not args.profile:
        raise UsageError(f"a {protocol} device is read as {form} --profile NAME, got {args.url!r}")
    fields: dict[str, Any] = {}
    try:
        fields["port"] = url.port or (502 if protocol == "modbus" else 47808)
        if protocol == "modbus":
            fields["unit_id"] = int(url.path.strip("/") or 1)
    except ValueError:
        raise UsageError(f"bad port or unit id in {args.url!r}") from None
    profile = registry[args.profile]
    if profile.protocol != protocol:
        raise UsageError(f"profile {profile.name!r} speaks {profile.protocol}, not {protocol}")
    device = DeviceConfig.model_validate(
        {"name": "read", "address": url.hostname, "profile": profile.name, "role": "other_meter", **fields}
        | {"timeout_s": args.timeout, "retries": args.retries}
    )
    adapter = ModbusDevices() if protocol == "modbus" else BacnetDevices()
    try:
        return profile, await adapter.read(device, profile)
    finally:
        await adapter.close()


async def _read(args: argparse.Namespace) -> int:
    from agent.devices.profiles import DEFAULT_PROFILE_DIR, load_profiles
    from agent.devices.readings import read_device
    from agent.devices.snmp.client import PysnmpClient
    from agent.devices.snmp.detect import detect_profile

    dirs = [DEFAULT_PROFILE_DIR, *[Path(d) for d in args.profile_dir]]
    registry = load_profiles(dirs, lazy_shipped=True)
    if urlparse(args.url).scheme in ("modbus", "bacnet"):
        profile, readout = await _read_named(args, registry)
        _print_readout(args, profile, readout)
        return 0
    if urlparse(args.url).scheme == "https":
        from agent.app.redfish_read import read_redfish

        profile, readout = await read_redfish(args, registry)
        _print_readout(args, profile, readout)
        return 0
    target = _target_from_args(args)
    client = PysnmpClient()
    try:
        if args.profile and args.profile.endswith((".yaml", ".yml")):  # a profile file, e.g. a fresh draft
            from agent.devices.profiles import load_profile

            profile = load_profile(Path(args.profile))
        elif args.profile:
            profile = registry[args.profile]
        else:  # NoProfileError names what answered and the 'profile draft' command
            profile = await detect_profile(client, target, registry)
        readout = await read_device(client, target, profile)
    finally:
        await client.close()
    _print_readout(args, profile, readout)
    return 0


def _print_readout(args: argparse.Namespace, profile: Any, readout: Any) -> None:
    from agent.app.units import operator_value, si_text
    from agent.devices.quantities import GLOSSARY

    rows: list[dict[str, Any]] = []
    for reading in readout.readings:
        unit = GLOSSARY[reading.quantity].unit
        row: dict[str, Any] = {
            "quantity": reading.quantity,
            "unit": unit,
            "labels": dict(reading.labels),
            "value": reading.value,
        }
        shown = operator_value(reading.quantity, reading.value, unit)
        if shown is not None:
            row["operator_value"], row["operator_unit"] = round(shown[0], 6), shown[1]
        rows.append(row)
    if args.format == "json":
        print(json.dumps({"profile": profile.name, "readings": rows, "problems": list(readout.problems)}, indent=2))
    else:
        print(f"profile: {profile.name}")
        width = max((len(row["quantity"]) for row in rows), default=8)
        for row in rows:
            labels = ",".join(f"{k}={v}" for k, v in row["labels"].items())
            value, symbol = si_text(row["value"], row["unit"])
            operator = f"{row['operator_value']:,.1f} {row['operator_unit']}" if "operator_value" in row else ""
            print(f"{row['quantity']:<{width}}  {value:>16} {symbol:<4} {operator:>16}  {labels}".rstrip())
        for p in readout.problems:
            print(f"problem: {p}", file=sys.stderr)


def cmd_read(args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_read(args))


# --- run / demo -------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from agent.config.site import load_config
    from agent.config.web import load_web_config, server_ssl_context

    try:
        cfg, profiles = load_config(Path(args.config))
        if args.web_config is not None:
            web = load_web_config(Path(args.web_config))
            if web.tls_server_config is not None:
                server_ssl_context(web.tls_server_config)  # fail fast on unreadable certificates
            cfg = cfg.model_copy(update={"web": web})
    except ConfigError as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return 2
    if args.listen_port is not None:
        cfg = cfg.model_copy(update={"listen": cfg.listen.model_copy(update={"port": args.listen_port})})
    from agent.app.run import run_agent  # the scheduler and server load only for `run`

    reason = asyncio.run(
        run_agent(cfg, profiles, args.duration, base_dir=Path(args.config).resolve().parent, shard=args.shard)
    )
    return exit_status(reason)


def exit_status(reason: str) -> int:
    """0 when the agent stopped as asked (--duration, SIGTERM from a service manager), 130 on Ctrl-C."""
    return 130 if reason == "SIGINT" else 0


def _shard(text: str) -> Shard:
    from agent.site.shard import parse_shard

    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# --- parser -----------------------------------------------------------------------------------
def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def tcp_or_udp_port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pue-agent", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"pue-agent {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: pue-agent's debug lines; -vv: every library's too",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check-config", help="validate a site config; exit 2 naming every problem")
    p.add_argument("config")
    p.add_argument("--dump", action="store_true", help="print the effective config, secrets masked")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("run", help="poll the site and serve /metrics")
    p.add_argument("--config", required=True)
    p.add_argument(
        "--duration", type=positive_float, default=None, help="stop after SECONDS (default: run until signalled)"
    )
    p.add_argument("--listen-port", type=tcp_or_udp_port, default=None)
    p.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="I/N",
        help="poll only shard I of N (stable hash of device names); export shard energy, "
        "not site PUE (sum across shards in Prometheus)",
    )
    p.add_argument(
        "--web-config",
        default=None,
        metavar="FILE",
        help="Prometheus-style web config (tls_server_config, basic_auth_users); overrides the config's web section",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("read", help="read one device once through its profile and print canonical readings")
    p.add_argument(
        "url",
        help="udp://HOST:PORT (SNMP), modbus://HOST[:PORT][/UNIT] (Modbus TCP) or bacnet://HOST[:PORT] (BACnet/IP) "
        "with --profile, or https://HOST[:PORT] with --profile and --bmc-user (Redfish; password in $PUE_BMC_PASSWORD)",
    )
    p.add_argument("--community")
    p.add_argument("--v3-user")
    p.add_argument("--auth-protocol", choices=sorted(AUTH_PROTOCOL_NAMES))
    p.add_argument("--auth-key")
    p.add_argument("--priv-protocol", choices=sorted(PRIV_PROTOCOL_NAMES))
    p.add_argument("--priv-key")
    p.add_argument("--v3-context", default="", help="SNMPv3 context name (default: empty)")
    p.add_argument("--bmc-user", help="Redfish: the BMC account (its password in $PUE_BMC_PASSWORD)")
    p.add_argument("--bmc-auth", choices=["session", "basic"], default="session", help="Redfish: how to log in")
    p.add_argument("--ca-file", help="Redfish: the CA (PEM) that signed the BMC's certificate (verification is on)")
    p.add_argument(
        "--profile",
        help="profile name, or a profile FILE.yaml such as a fresh `profile draft` "
        "(default: detect from sysObjectID/sysDescr)",
    )
    p.add_argument("--profile-dir", action="append", default=[], help="extra profile directory")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--timeout", type=positive_float, default=2.0)
    p.add_argument("--retries", type=int, default=1)
    p.set_defaults(func=cmd_read)

    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    # the agent never imports the twin: `demo` and `twin` arrive here only when that package is installed
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group=COMMAND_ENTRY_POINTS), key=lambda e: e.name):
        entry.load().register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        handler = getattr(args, "func", None) or getattr(args, "handler", None)
        if handler is None:
            parser.error(f"{args.command}: give a sub-command")
        status = int(handler(args))
        sys.stdout.flush()  # here, not at exit: a reader that went away (`| head`) is the BrokenPipeError below
        return status
    except BrokenPipeError:  # `check-config --dump | head`: the reader stopped reading; nothing to tell it
        _quiet_stdout()
        return 141  # as a process killed by SIGPIPE, what the shell reports for `cat | head`
    except BAD_INPUT_ERRORS as err:
        print(f"pue-agent {args.command}: {err}", file=sys.stderr)
        return 2
    except PueAgentError as err:  # SNMP, decoding, a write guard: the site, not the input, failed
        print(f"pue-agent {args.command}: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a file or socket the input named, not caught where it was opened
        where = f"{err.filename}: " if err.filename is not None else ""
        print(f"pue-agent {args.command}: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside the agent's loop (which stops cleanly): training, a read
        print(f"pue-agent {args.command}: interrupted", file=sys.stderr)
        return 130


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
