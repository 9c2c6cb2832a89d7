"""Sub-commands for onboarding hardware: ``pue-agent profile draft`` and ``pue-agent discover``.

Registered by :mod:`agent.app.cli` like the other feature packages (``register(subparsers)``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agent.devices.snmp.seam import AUTH_PROTOCOL_NAMES, PRIV_PROTOCOL_NAMES, SnmpTarget, V2cAuth, V3Auth
from agent.errors import UsageError

__all__ = ["register"]


def _add_v3(p: argparse.ArgumentParser) -> None:
    p.add_argument("--v3-user")
    p.add_argument("--auth-protocol", choices=sorted(AUTH_PROTOCOL_NAMES))
    p.add_argument("--auth-key")
    p.add_argument("--priv-protocol", choices=sorted(PRIV_PROTOCOL_NAMES))
    p.add_argument("--priv-key")
    p.add_argument("--v3-context", default="", help="SNMPv3 context name (default: empty)")


def _v3_auth(args: argparse.Namespace) -> V3Auth | None:
    if not args.v3_user:
        return None
    if not (args.auth_protocol and args.auth_key):
        raise UsageError("SNMPv3 needs --auth-protocol and --auth-key (protocols are never implied)")
    if bool(args.priv_protocol) != bool(args.priv_key):
        raise UsageError("--priv-protocol and --priv-key go together")
    return V3Auth(args.v3_user, args.auth_protocol, args.auth_key, args.priv_protocol, args.priv_key, args.v3_context)


def _host_port(text: str) -> tuple[str, int]:
    address = text.removeprefix("udp://")  # the form `read` takes and its "no profile" error suggests
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "161")
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"--address {text!r}: bad port") from None
    if not host or not 1 <= number <= 65535:
        raise UsageError(f"--address {text!r}: give HOST or HOST:PORT")
    from agent.app.cli import check_host

    check_host(host, f"--address {text}")
    return host, number


# --- profile draft -------------------------------------------------------------------------------
def cmd_profile_draft(args: argparse.Namespace) -> int:
    from agent.devices.snmp.draft import (
        draft_profile,
        profile_name_for,
        read_snmprec,
        render_profile,
        walk_device,
        write_draft,
    )
    from agent.devices.snmp.mibs import MibTree, load_mibs

    if bool(args.snmprec) == bool(args.address):
        raise UsageError("give either --address HOST[:PORT] (a live device) or --snmprec FILE (a recording)")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        raise UsageError(f"{out}: exists; pass --force to overwrite it")
    if args.snmprec:
        walk = read_snmprec(Path(args.snmprec))
        note = f"recording {Path(args.snmprec).name}"
    else:
        host, port = _host_port(args.address)
        auth: V2cAuth | V3Auth | None = _v3_auth(args)
        if auth is None:
            if not args.community:
                raise UsageError("give --community (v2c) or --v3-user with its protocols and keys")
            auth = V2cAuth(args.community)
        target = SnmpTarget(host, port, auth, args.timeout, args.retries)

        async def walk_live() -> dict[str, Any]:
            from agent.devices.snmp.client import PysnmpClient

            client = PysnmpClient()
            try:
                return await walk_device(client, target)
            finally:
                await client.close()

        import asyncio

        walk = asyncio.run(walk_live())
        note = f"a walk of {host}:{port}"
    enterprises = {int(oid.split(".")[6]) for oid in walk if oid.startswith("1.3.6.1.4.1.") and oid.count(".") > 6}
    mibs, problems = load_mibs([Path(d) for d in args.mib_dir], enterprises) if args.mib_dir else (MibTree(()), [])
    for line in problems:
        print(f"profile draft: {line}", file=sys.stderr)
    from agent.devices.snmp.draft import SYS_DESCR, SYS_OBJECT_ID

    descr = walk.get(SYS_DESCR)
    sys_oid = walk.get(SYS_OBJECT_ID)
    name = args.name or profile_name_for(
        out,
        descr.value.decode("utf-8", "replace") if descr is not None and isinstance(descr.value, bytes) else "",
        str(sys_oid.value) if sys_oid is not None else "",
    )
    draft = draft_profile(walk, mibs, name=name, input_note=note)
    text = render_profile(draft)
    found = ", ".join(sorted({o.quantity for o in draft.objects})) or "nothing"
    print(
        f"profile draft: {len(walk)} OIDs walked, {len(mibs)} MIB nodes from {len(mibs.modules)} module(s); "
        f"{len(draft.objects)} object(s) proposed: {found}",
        file=sys.stderr,
    )
    if out is None:
        sys.stdout.write(text)
    else:
        write_draft(text, out, force=args.force)
        pending = sum(1 for o in draft.objects if o.writable_step is not None)
        print(f"wrote {out}" + (f" ({pending} writable setpoint(s) need bounds before it loads)" if pending else ""))
        where = "udp://{}:{}".format(*_host_port(args.address)) if args.address else "udp://HOST:PORT"
        print(f"try it: pue-agent read {where} --community ... --profile {out}")
    return 0


# --- discover ----------------------------------------------------------------------------------
def cmd_discover(args: argparse.Namespace) -> int:
    from agent.app.discover import (
        Credential,
        discover,
        parse_addresses,
        read_address_file,
        render_devices,
        render_table,
    )
    from agent.devices.profiles import DEFAULT_PROFILE_DIR, load_profiles

    items = list(args.addresses)
    for path in args.from_file:
        items.extend(read_address_file(Path(path)))
    if not items:
        raise UsageError(
            "name the addresses to ask (ADDRESS, ADDRESS:PORT or CIDR), or --from-file FILE: "
            "the agent never scans what it was not told"
        )
    addresses = parse_addresses(items, default_port=args.port, allow_large=args.allow_large)
    credentials = [
        Credential(f"community-{i}" if len(args.community) > 1 else "community", V2cAuth(c))
        for i, c in enumerate(args.community, 1)
    ]
    v3 = _v3_auth(args)
    if v3 is not None:
        credentials.append(Credential("v3", v3))
    if not credentials:
        raise UsageError("give --community (repeatable, tried in turn) and/or --v3-user with its protocols and keys")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        raise UsageError(f"{out}: exists; pass --force to overwrite it")
    registry = load_profiles([DEFAULT_PROFILE_DIR, *[Path(d) for d in args.profile_dir]])
    progress, finish = _progress(len(addresses))

    async def run() -> list[Any]:
        from agent.devices.snmp.client import PysnmpClient

        client = PysnmpClient()
        try:
            return await discover(
                client,
                addresses,
                credentials,
                registry,
                concurrency=args.concurrency,
                timeout_s=args.timeout,
                retries=args.retries,
                progress=progress,
            )
        finally:
            await client.close()

    import asyncio

    try:
        devices = asyncio.run(run())
    finally:
        finish()
    print(render_table(devices))
    if out is not None:
        out.write_text(render_devices(devices), encoding="utf-8")
        print(f"wrote {out}: {sum(d.profile is not None for d in devices)} device(s); check every guess")
    return 0


def _progress(total: int) -> tuple[Any, Any]:
    """A progress callback on stderr (rich's bar on a terminal, a plain line per device elsewhere) and a function
    that ends it."""
    if not sys.stderr.isatty():
        done = 0

        def plain(device: Any) -> None:
            nonlocal done
            done += 1
            print(f"discover: {done}/{total} {device.address}: {device.profile or device.problem}", file=sys.stderr)

        return plain, lambda: None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(transient=True, console=Console(stderr=True))  # stdout is for the table
    task = bar.add_task("discover", total=total)
    bar.start()

    def fancy(_device: Any) -> None:
        bar.advance(task)

    return fancy, bar.stop


def register(sub: Any) -> None:
    p = sub.add_parser("profile", help="device profiles: draft one for a device no profile reads")
    psub = p.add_subparsers(dest="profile_command", required=True)
    d = psub.add_parser("draft", help="propose a profile YAML from a live walk or an .snmprec recording and MIBs")
    d.add_argument(
        "--address", help="HOST[:PORT] of a live device (walked: system, UPS-MIB, ENTITY-SENSOR-MIB, enterprises)"
    )
    d.add_argument("--community")
    _add_v3(d)
    d.add_argument("--snmprec", help="an snmpsim recording (OID|TAG|VALUE lines) instead of a live device")
    d.add_argument(
        "--mib-dir",
        action="append",
        default=[],
        help="a directory of MIB files (repeatable; none "
        "ship with the agent); without MIBs the draft guesses from the walk alone",
    )
    d.add_argument("--name", help="profile name (default: the --out file's stem)")
    d.add_argument("--out", help="write the YAML here (default: stdout)")
    d.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    d.add_argument("--timeout", type=float, default=2.0)
    d.add_argument("--retries", type=int, default=1)
    d.set_defaults(handler=cmd_profile_draft)

    p = sub.add_parser("discover", help="ask the named addresses what they are: profile, role, key readings")
    p.add_argument("addresses", nargs="*", help="ADDRESS, ADDRESS:PORT or CIDR (at most /22 without --allow-large)")
    p.add_argument("--from-file", action="append", default=[], help="a file of addresses, one a line")
    p.add_argument("--port", type=int, default=161, help="port for addresses given without one (default 161)")
    p.add_argument("--allow-large", action="store_true", help="allow a CIDR block larger than /22")
    p.add_argument("--community", action="append", default=[], help="v2c community (repeatable: tried in turn)")
    _add_v3(p)
    p.add_argument("--profile-dir", action="append", default=[], help="extra profile directory")
    p.add_argument("--concurrency", type=int, default=16, help="devices asked at once (default 16)")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--retries", type=int, default=1)
    p.add_argument("--out", help="write a draft `devices:` section for the site config here")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(handler=cmd_discover)
