"""The ``pue-agent`` command line.

Exit status: 0 success, 1 runtime failure (device unreachable, ...), 2 bad input (config,
arguments, files), as every command here documents.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from agent import __version__
from agent.config import SiteConfig, dump_config, load_config
from agent.errors import (
    ConfigError,
    HistoryError,
    HistoryFormatError,
    ModelError,
    ProfileError,
    PueAgentError,
    UsageError,
)
from agent.profiles import DEFAULT_PROFILE_DIR, load_profiles
from agent.security import load_web_config, server_ssl_context
from agent.shard import Shard, parse_shard
from agent.snmp import AUTH_PROTOCOLS, PRIV_PROTOCOLS, PysnmpClient, SnmpTarget, V2cAuth, V3Auth

if TYPE_CHECKING:
    from agent.sim.site import MinimalSite
    from agent.twin.live import TwinLiveSite

__all__ = ["main"]

#: simulated time at which the demo's twin starts: mid-March in Guiyang, 14:00 local, when free cooling
#: starts to pay and a legacy setpoint schedule leaves the most on the table
DEMO_START = datetime(2026, 3, 15, 6, tzinfo=UTC)

#: feature packages that add their own sub-commands with ``register(subparsers)``
SUBCOMMAND_MODULES = ("agent.twin.cli", "agent.recommend.cli", "agent.history.cli", "agent.onboard_cli")

DEMO_CONFIGS = {"twin": DEFAULT_PROFILE_DIR.parent / "twin-site.yaml",
                "minimal": DEFAULT_PROFILE_DIR.parent / "demo-site.yaml"}  # agent/data links to configs/

log = logging.getLogger("pue-agent")

#: what every sub-command reports as bad input (exit status 2), one line each, never a traceback
BAD_INPUT_ERRORS = (UsageError, ConfigError, ProfileError, HistoryError, HistoryFormatError, ModelError)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("pysnmp", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # overrun polls are counted in pue_device_polls_skipped_total instead of a warning per skip
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


# --- check-config ----------------------------------------------------------------------------
def cmd_check_config(args: argparse.Namespace) -> int:
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
def _target_from_args(args: argparse.Namespace) -> SnmpTarget:
    url = urlparse(args.url)
    if url.scheme != "udp" or not url.hostname:
        raise UsageError(f"device URL must look like udp://HOST:PORT, got {args.url!r}")
    try:
        port = url.port or 161
    except ValueError:
        raise UsageError(f"bad port in {args.url!r}") from None
    auth: V2cAuth | V3Auth
    if args.v3_user:
        if not (args.auth_protocol and args.auth_key):
            raise UsageError("SNMPv3 needs --auth-protocol and --auth-key (protocols are never implied)")
        if bool(args.priv_protocol) != bool(args.priv_key):
            raise UsageError("--priv-protocol and --priv-key go together")
        auth = V3Auth(args.v3_user, args.auth_protocol, args.auth_key, args.priv_protocol, args.priv_key,
                      args.v3_context)
    elif args.community:
        auth = V2cAuth(args.community)
    else:
        raise UsageError("give --community (v2c) or --v3-user with its protocols and keys")
    return SnmpTarget(url.hostname, port, auth, args.timeout, args.retries)


async def _read(args: argparse.Namespace) -> int:
    from agent.readings import detect_profile, read_device

    target = _target_from_args(args)
    dirs = [DEFAULT_PROFILE_DIR, *[Path(d) for d in args.profile_dir]]
    registry = load_profiles(dirs)
    client = PysnmpClient()
    try:
        if args.profile and args.profile.endswith((".yaml", ".yml")):  # a profile file, e.g. a fresh draft
            from agent.profiles import load_profile

            profile = load_profile(Path(args.profile))
        elif args.profile:
            profile = registry[args.profile]
        else:  # NoProfileError names what answered and the 'profile draft' command
            profile = await detect_profile(client, target, registry)
        readout = await read_device(client, target, profile)
    finally:
        await client.close()
    from agent.quantities import GLOSSARY

    rows: list[dict[str, Any]] = [
        {"quantity": r.quantity, "unit": GLOSSARY[r.quantity].unit, "labels": dict(r.labels), "value": r.value}
        for r in readout.readings]
    if args.format == "json":
        print(json.dumps({"profile": profile.name, "readings": rows, "problems": list(readout.problems)}, indent=2))
    else:
        print(f"profile: {profile.name}")
        width = max((len(r["quantity"]) for r in rows), default=8)
        for r in rows:
            labels = ",".join(f"{k}={v}" for k, v in r["labels"].items())
            print(f"{r['quantity']:<{width}}  {r['value']:>14.6g} {r['unit']:<4} {labels}")
        for p in readout.problems:
            print(f"problem: {p}", file=sys.stderr)
    return 0


def cmd_read(args: argparse.Namespace) -> int:
    return asyncio.run(_read(args))


# --- run / demo -------------------------------------------------------------------------------
async def _run_agent(cfg: SiteConfig, profiles: object, duration_s: float | None, *,
                     base_dir: Path = Path("."), history_path: Path | None = None, recommender: object = None,
                     shard: Shard | None = None) -> None:
    from agent.runtime import Agent

    observers = []
    writer = None
    if history_path is None and cfg.history is not None:
        history_path = cfg.history.path if cfg.history.path.is_absolute() else base_dir / cfg.history.path
        if shard is not None:
            # shards share one config file, so this is not an error; but a shard's site intervals would have
            # coverage 0 (its boundaries span other shards), and N shards would all write the one file
            log.warning("shard %s: history (%s) not written in shard mode: it needs every device; run one "
                        "agent without --shard for history", shard, history_path)
            history_path = None
    if history_path is not None:
        from agent.history import HistoryWriter, SqliteHistoryStore

        # exclusive: a second agent on this file is refused (HistoryLockedError, exit 2) before it polls
        writer = HistoryWriter(SqliteHistoryStore(history_path, exclusive=True), cfg)
        observers.append(writer)
        print(f"history: {history_path}", flush=True)
    agent = Agent(cfg, profiles, observers=observers, recommender=recommender,  # type: ignore[arg-type]
                  shard=shard)
    if writer is not None:
        from agent.history.writer import HistoryCollector

        agent.registry.register(HistoryCollector(writer))
    try:
        host, port = agent.start_http()
    except ConfigError:
        if writer is not None:
            writer.close()
        raise
    scheme = "https" if cfg.web is not None and cfg.web.tls_server_config is not None else "http"
    if shard is not None:
        log.info("shard %s: polling %d of %d devices", shard, len(agent.cfg.devices), len(cfg.devices))
    log.info("metrics at %s://%s:%d/metrics", scheme, host, port)
    print(f"pue-agent {__version__}: metrics at {scheme}://{host}:{port}/metrics", flush=True)
    agent.start_scheduler()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=duration_s)
    except TimeoutError:
        pass
    finally:
        await agent.stop()
        if writer is not None:
            await asyncio.to_thread(writer.close)  # writes what still waits for the database


def cmd_run(args: argparse.Namespace) -> int:
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
    asyncio.run(_run_agent(cfg, profiles, args.duration, base_dir=Path(args.config).resolve().parent,
                           shard=args.shard))
    return 0


def _shard(text: str) -> Shard:
    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _demo_config(site: str, base_port: int | None, listen_port: int | None) -> tuple[SiteConfig, object]:
    cfg, profiles = load_config(DEMO_CONFIGS[site])
    if base_port is not None:
        devices = tuple(d.model_copy(update={"port": base_port + i}) for i, d in enumerate(cfg.devices))
        cfg = cfg.model_copy(update={"devices": devices})
    if listen_port is not None:
        cfg = cfg.model_copy(update={"listen": cfg.listen.model_copy(update={"port": listen_port})})
    return cfg, profiles


async def _demo(args: argparse.Namespace) -> int:
    cfg, profiles = _demo_config(args.site, args.base_port, args.listen_port)
    if args.listen_address:
        cfg = cfg.model_copy(update={"listen": cfg.listen.model_copy(update={"address": args.listen_address})})
    tmp = Path(tempfile.gettempdir())
    if args.site == "twin" and args.recommender != "off":
        from agent.config import RecommenderConfig

        model_dir = Path(args.model) if args.model else _demo_model(tmp / "pue-demo-model-v2")
        # a person approves by hand in the demo: give them minutes, not the default 4 poll intervals (20 s)
        rcfg = RecommenderConfig(mode=args.recommender, model_dir=model_dir, action_log=tmp / "pue-demo-actions.jsonl",
                                 pending_expiry_s=300.0)
        cfg = cfg.model_copy(update={"recommender": rcfg})
        print(f"recommender: {args.recommender} mode, model {model_dir}", flush=True)
    site: MinimalSite | TwinLiveSite
    if args.site == "twin":
        from agent.twin.live import TwinLiveSite

        site = TwinLiveSite(cfg, profiles, weather=args.weather, speed=args.speed,  # type: ignore[arg-type]
                            start=DEMO_START)
    else:
        from agent.sim.site import MinimalSite

        site = MinimalSite(cfg, profiles)  # type: ignore[arg-type]
    truth_file = Path(args.truth_file) if args.truth_file else Path(tempfile.gettempdir()) / "pue-demo-truth.json"
    history = Path(args.history) if args.history else Path(tempfile.gettempdir()) / "pue-demo-history.sqlite"
    async with site.serving(truth_file=truth_file):
        print(f"simulated site ({args.site}): {len(site.devices)} devices on 127.0.0.1 ports "
              f"{min(d.port for d in cfg.devices)}-{max(d.port for d in cfg.devices)}; truth in {truth_file}",
              flush=True)
        await _run_agent(cfg, profiles, args.duration, history_path=history)
    return 0


def _demo_model(model_dir: Path) -> Path:
    """A cooling model for the demo, trained once (then cached) on 28 days of the twin's safe exploration."""
    from agent.errors import ModelError
    from agent.recommend.artefact import load_model

    try:
        load_model(model_dir)
        return model_dir
    except (ModelError, OSError):
        pass
    from agent.recommend.artefact import save_model
    from agent.recommend.history_io import read_site_history
    from agent.recommend.training import fit_from_history
    from agent.twin.exploration import write_exploration_history
    from agent.twin.weather import load_site_weather

    print("training the demo's cooling model on 28 days of the twin's safe exploration (once, cached)...",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "history.csv"
        # a site explores around where it runs: the twin starts at the legacy 18 C / 7 C
        rows = write_exploration_history(load_site_weather("guiyang"), DEMO_START - timedelta(days=28), 28.0,
                                         900.0, csv_path, centre_supply_air_c=19.0, centre_chw_supply_c=9.0,
                                         amplitude_c=4.0)
        model = fit_from_history(read_site_history(csv_path))
    window = {"start": (DEMO_START - timedelta(days=28)).isoformat(), "end": DEMO_START.isoformat(), "rows": rows}
    save_model(model, model_dir, window, source="twin safe exploration, Guiyang, 28 d at 15 min")
    return model_dir


def cmd_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))


# --- parser -----------------------------------------------------------------------------------
def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _port(text: str) -> int:
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
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check-config", help="validate a site config; exit 2 naming every problem")
    p.add_argument("config")
    p.add_argument("--dump", action="store_true", help="print the effective config, secrets masked")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("run", help="poll the site and serve /metrics")
    p.add_argument("--config", required=True)
    p.add_argument("--duration", type=_positive, default=None, help="stop after SECONDS (default: run until signalled)")
    p.add_argument("--listen-port", type=_port, default=None)
    p.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="poll only shard I of N (stable hash of device names); export shard energy, "
                        "not site PUE (sum across shards in Prometheus)")
    p.add_argument("--web-config", default=None, metavar="FILE",
                   help="Prometheus-style web config (tls_server_config, basic_auth_users); "
                        "overrides the config's web section")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("read", help="read one device once through its profile and print canonical readings")
    p.add_argument("url", help="udp://HOST:PORT")
    p.add_argument("--community")
    p.add_argument("--v3-user")
    p.add_argument("--auth-protocol", choices=sorted(AUTH_PROTOCOLS))
    p.add_argument("--auth-key")
    p.add_argument("--priv-protocol", choices=sorted(PRIV_PROTOCOLS))
    p.add_argument("--priv-key")
    p.add_argument("--v3-context", default="", help="SNMPv3 context name (default: empty)")
    p.add_argument("--profile", help="profile name, or a profile FILE.yaml such as a fresh `profile draft` "
                   "(default: detect from sysObjectID/sysDescr)")
    p.add_argument("--profile-dir", action="append", default=[], help="extra profile directory")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--timeout", type=_positive, default=2.0)
    p.add_argument("--retries", type=int, default=1)
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("demo", help="simulated site on loopback + agent + metrics, no hardware needed")
    p.add_argument("--duration", type=_positive, default=None, help="stop after SECONDS")
    p.add_argument("--base-port", type=_port, default=None, help="first UDP port of the simulated devices")
    p.add_argument("--listen-port", type=_port, default=None, help="metrics port (default 10330)")
    p.add_argument("--truth-file", default=None, help="where the simulator writes its ground-truth PUE (JSON)")
    p.add_argument("--site", choices=sorted(DEMO_CONFIGS), default="twin",
                   help="twin: physics-based Guiyang hall (default); minimal: 7 devices, sine-wave load")
    p.add_argument("--weather", default="guiyang", help="twin weather: guiyang, chengdu, chongqing or an EPW path")
    p.add_argument("--speed", type=_positive, default=60.0, help="twin time acceleration (simulated s per s)")
    p.add_argument("--history", default=None,
                   help="history database (default: pue-demo-history.sqlite in the temp dir)")
    p.add_argument("--recommender", choices=["off", "advise", "approve", "auto"], default="advise",
                   help="twin only: recommendation mode (default advise: recommend, never write)")
    p.add_argument("--model", default=None, help="model directory (default: train one on the twin, cached)")
    p.add_argument("--listen-address", default=None, help="metrics address (default 127.0.0.1)")
    p.set_defaults(func=cmd_demo)

    for module_name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name is None or not (module_name + ".").startswith(err.name + "."):
                # a real missing dependency inside an existing feature package: say so loudly
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        handler = getattr(args, "func", None) or getattr(args, "handler", None)
        if handler is None:
            parser.error(f"{args.command}: give a sub-command")
        return int(handler(args))
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
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
