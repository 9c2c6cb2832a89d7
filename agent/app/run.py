"""``pue-agent run`` (and the twin's ``demo``): one agent's life from start-up summary to shutdown line.

The history writer (SQLite or PostgreSQL) as an observer, signals, a status line, the start-up summary and the
shutdown line around :class:`agent.app.runtime.Agent`, which polls, accounts and serves.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent import __version__
from agent.app.gc_policy import GcPolicy
from agent.app.runtime import Agent, AgentObserver
from agent.config.site import SiteConfig
from agent.errors import ConfigError
from agent.site.shard import Shard

__all__ = ["GIL_SWITCH_INTERVAL_S", "run_agent"]

#: sys.setswitchinterval while the agent runs (Python's default is 0.005)
GIL_SWITCH_INTERVAL_S = 0.0005


async def run_agent(
    cfg: SiteConfig,
    profiles: object,
    duration_s: float | None,
    *,
    base_dir: Path = Path("."),
    history_path: Path | None = None,
    recommender: object = None,
    shard: Shard | None = None,
    status_every_s: float | None = None,
) -> str:
    """``pue-agent run`` (and the twin's ``demo``): the agent with its history writer until ``duration_s`` or a
    signal; the history writer drains before returning.

    Prints a start-up summary (:mod:`agent.app.summary`), a status line every ``status_every_s`` if given, and a
    shutdown line; returns why it stopped: ``"SIGINT"``, ``"SIGTERM"`` or ``"duration"``.
    """
    from agent.app.summary import PollCounter, shutdown_line, startup_lines, status_line

    # The event loop shares the GIL with the history writer and the /metrics threads. At the default 5 ms
    # switch interval, every syscall the loop makes (a sendto per SNMP request) can hand the GIL to a busy
    # thread for up to 5 ms: at thousands of requests a second that queueing, not CPU, sets the poll latency.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    log = logging.getLogger("pue-agent")
    counter = PollCounter()
    observers: list[AgentObserver] = [counter]
    writer = None
    reader: tuple[str, Callable[[], Any]] | None = None  # the PostgreSQL history retraining reads
    postgres = history_path is None and cfg.history is not None and cfg.history.url is not None
    if history_path is None and cfg.history is not None and not postgres:
        history_path = cfg.history.path if cfg.history.path.is_absolute() else base_dir / cfg.history.path
        if shard is not None:
            # shards share one config file, so this is not an error; but a shard's site intervals would have
            # coverage 0 (its boundaries span other shards), and N shards would all write the one file
            log.warning(
                "shard %s: history (%s) not written in shard mode: it needs every device; run one "
                "agent without --shard for history, or share a PostgreSQL history (history.url)",
                shard,
                history_path,
            )
            history_path = None
    if history_path is not None or postgres:
        from agent.history import HistoryWriter
        from agent.history.factory import open_history_store, shard_history_config, target_label

        # exclusive: a second agent on this file (or as this site/agent of a shared database) is refused
        # (HistoryLockedError, exit 2) before it polls
        store = open_history_store(cfg, base_dir, db=history_path, exclusive=True, shard=shard)
        # a shard writes its own meters' part of each boundary; reports sum the shards (docs/history.md)
        from agent.site.conditions import setpoint_ranges

        writer = HistoryWriter(
            store,
            cfg if shard is None else shard_history_config(cfg, shard),
            setpoint_ranges=setpoint_ranges(cfg, profiles),  # type: ignore[arg-type]
        )
        observers.append(writer)
        label = target_label(history_path if history_path is not None else str(getattr(store, "url", "")))
        print(f"history: {label}", flush=True)
        if postgres and cfg.recommender is not None:  # retraining reads the shared history, read-only
            reader = (label, lambda: open_history_store(cfg, base_dir, readonly=True))
    # the history path also feeds retraining (every recommender.retrain_interval_h) when a recommender runs
    agent = Agent(
        cfg,
        profiles,  # type: ignore[arg-type]
        observers=observers,
        recommender=recommender,
        shard=shard,
        history_path=history_path,
        history_reader=reader,
    )
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
    stop = asyncio.Event()
    reason = "interrupted"  # until a signal or the duration says why
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        nonlocal reason
        reason = sig.name
        stop.set()

    # before the summary says where the metrics are: a Ctrl-C from then on stops the agent cleanly
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    for i, line in enumerate(startup_lines(agent.cfg, f"{scheme}://{host}:{port}/metrics")):
        print(f"pue-agent {__version__}: {line}" if i == 0 else line, flush=True)
    started_s = time.monotonic()
    # no automatic garbage collection (it finds nothing at site scale); one full collection an hour (gc_policy.py)
    gc_policy = GcPolicy()
    agent.observers.append(gc_policy)
    agent.start_scheduler()

    async def report_status(every_s: float) -> None:
        controller = agent.controller
        while True:
            await asyncio.sleep(every_s)
            recommendation = controller.recommendation_json() if controller is not None else None
            actions = controller.actions_json() if controller is not None else []
            print(status_line(agent.state, recommendation, actions), flush=True)

    status = asyncio.create_task(report_status(status_every_s)) if status_every_s else None
    try:
        await asyncio.wait_for(stop.wait(), timeout=duration_s)
    except TimeoutError:
        reason = "duration"
    finally:
        if status is not None:
            status.cancel()
        print(f"pue-agent: stopping ({reason}): finishing polls in flight and writing history", flush=True)
        await agent.stop()
        if writer is not None:
            await asyncio.to_thread(writer.close)  # writes what still waits for the database
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        gc_policy.close()
    print(shutdown_line(reason, time.monotonic() - started_s, counter, agent.state), flush=True)
    return reason
