"""The running agent: device polls on one timer heap, APScheduler for the site tick and retraining, /metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agent.app.http import ApiHandlers, HttpLimits, HttpServer
from agent.app.poll_schedule import PollSchedule, first_window_s
from agent.app.security import make_http_server
from agent.app.status import agent_status
from agent.config.site import SiteConfig
from agent.control.actuator import SetpointActuator
from agent.control.controller import CoolingController
from agent.control.recommender_setup import recommender_for
from agent.control.retrain import Retrainer
from agent.devices.bacnet.adapter import BacnetDevices
from agent.devices.bacnet.client import BacnetClient
from agent.devices.modbus.adapter import ModbusDevices
from agent.devices.modbus.client import ModbusClient
from agent.devices.profiles import ProfileRegistry
from agent.devices.reader import ByProtocol
from agent.devices.readings import DeviceSnapshot
from agent.devices.redfish.adapter import RedfishDevices
from agent.devices.redfish.client import RedfishClient
from agent.devices.snmp.adapter import SnmpDevices
from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.seam import SnmpClient
from agent.errors import ConfigError
from agent.export.collectors import AgentHealthCollector, DeviceReadingsCollector, build_registry
from agent.export.device_series import DeviceSeries
from agent.export.exploration import ExplorationCollector
from agent.export.exposition import ExpositionRegistry
from agent.export.realised import RealisedCollector
from agent.export.recommendation import RecommendationCollector
from agent.export.retrain import RetrainCollector
from agent.export.shard import ShardCollector
from agent.site.poller import AgentState, Poller, SiteAccountant, SiteState
from agent.site.shard import Shard, ShardAccountant, shard_config

__all__ = ["Agent", "AgentObserver", "next_due_s"]

log = logging.getLogger(__name__)


class AgentObserver(Protocol):
    """Something that consumes what the agent produces (history store, recommender, ...).

    Called in the event loop after each device poll and each site tick; must not block long. An observer whose
    ``on_site`` is O(devices) and needs no event loop sets ``site_off_loop = True``: it is then called on the
    site-tick thread, with a copy of the state taken at the tick (:meth:`AgentState.frozen`), before the
    observers that run in the loop.
    """

    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None: ...

    def on_site(self, site: SiteState, state: AgentState) -> None: ...


def next_due_s(last_s: float | None, now_s: float, interval_s: float) -> float:
    """When the next poll is due: on the interval grid after ``last_s``, never in the past.

    Overruns coalesce: if several intervals were missed, the next one is the first grid point
    after ``now_s``, not a burst of catch-up polls.
    """
    if last_s is None:
        return now_s
    due = last_s + interval_s
    if due >= now_s:
        return due
    missed = int((now_s - last_s) // interval_s)
    return last_s + (missed + 1) * interval_s


class Agent:
    """Wires config, profiles, SNMP client, state, scheduler and exporter together."""

    def __init__(
        self,
        cfg: SiteConfig,
        profiles: ProfileRegistry,
        client: SnmpClient | None = None,
        clock: Callable[[], float] = time.time,
        observers: Sequence[AgentObserver] = (),
        recommender: Any = None,
        shard: Shard | None = None,
        history_path: Path | None = None,
        history_reader: tuple[str, Callable[[], Any]] | None = None,  # (label, opener) of a PostgreSQL history
        modbus_client: ModbusClient | None = None,
        bacnet_client: BacnetClient | None = None,
        redfish_client: RedfishClient | None = None,
    ) -> None:
        if shard is not None:
            cfg = shard_config(cfg, shard)
        self.cfg = cfg
        self.observers = list(observers)
        self.state = AgentState()
        self.client: SnmpClient = client or PysnmpClient(max_concurrency=cfg.max_concurrency)
        #: every protocol adapter behind the one device seam (SNMP, Modbus TCP, BACnet/IP, Redfish)
        self.devices = ByProtocol(
            {
                "snmp": SnmpDevices(cfg, self.client),
                "modbus": ModbusDevices(modbus_client),
                "bacnet": BacnetDevices(bacnet_client),
                "redfish": RedfishDevices(cfg, redfish_client),
            },
            profiles,
        )
        self.poller = Poller(cfg, profiles, self.devices, self.state, clock)
        self.accountant = SiteAccountant(cfg, self.state, clock)
        self._clock = clock
        # the site tick's O(devices) work runs here, off the event loop (a 10,000-device tick took 0.1-0.6 s:
        # every poll in flight waited that long); one thread, so ticks never overlap
        self._tick_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="site-tick")
        # each device's /metrics lines, rendered as its poll completes (a scrape only joins them)
        self.series = DeviceSeries(cfg, self.state)
        self.observers.insert(0, self.series)
        self.registry: ExpositionRegistry
        if shard is None:
            self.registry = build_registry(cfg, self.state, clock, self.series)
        else:
            # a shard cannot know the site PUE (its boundaries span other shards): it exports its own
            # contributors' energy and Prometheus sums across shards (agent/site/shard.py)
            shard_accountant = ShardAccountant(cfg, shard)
            self.observers.append(shard_accountant)
            self.registry = ExpositionRegistry()
            self.registry.register(DeviceReadingsCollector(cfg, self.state, clock, self.series))
            self.registry.register(AgentHealthCollector(cfg, self.state, clock, self.series))
            self.registry.register(ShardCollector(shard_accountant))
        self.api = ApiHandlers()
        self.controller: CoolingController | None = None
        #: start of the last interval the loaded model was fitted on (its sidecar), for champion/challenger
        self._champion_last_row_s: float | None = None
        mode = cfg.recommender.mode if cfg.recommender is not None else "off"
        recommending = mode != "off"
        if recommending and shard is not None:
            # shards share one config file, so this is not an error; but a shard sees only its own devices
            # (no site PUE, a share of the rack inlets): it must neither recommend nor write setpoints
            log.warning(
                "shard %s: recommender (mode %s) not run in shard mode: it needs every device; run one "
                "agent without --shard for recommendations",
                shard,
                mode,
            )
            recommending = False
        if recommending:
            self.controller = self._build_controller(cfg, profiles, recommender, clock)
            self.observers.append(self.controller)
            self.registry.register(RecommendationCollector(self.controller))
            if self.controller.exploration is not None:
                self.registry.register(ExplorationCollector(self.controller.exploration))
            self.registry.register(RealisedCollector(self.controller.realised))
        controller = self.controller
        self.api.status = lambda: agent_status(self.cfg, self.state, controller, clock)
        self.retrainer: Retrainer | None = None
        source = history_path if history_path is not None else history_reader[0] if history_reader else None
        if self.controller is not None and source is not None and cfg.recommender is not None:
            rcfg = cfg.recommender
            self.retrainer = Retrainer(
                source,
                self.controller,
                rcfg.retrain_window_days,
                clock,
                model_dir=rcfg.retrain_model_dir or rcfg.model_dir,
                holdout_days=rcfg.retrain_holdout_days,
                inlet_tolerance_c=rcfg.retrain_swap_inlet_tolerance_c,
                champion_last_row_s=self._champion_last_row_s,
                open_store=history_reader[1] if history_path is None and history_reader else None,
            )
            self.registry.register(RetrainCollector(self.retrainer))
            log.info(
                "cooling model retrained from %s every %g h on the last %g days",
                source,
                cfg.recommender.retrain_interval_h,
                cfg.recommender.retrain_window_days,
            )
        self._scheduler: AsyncIOScheduler | None = None  # the site tick and retraining
        #: device polls (one timer heap, not a scheduler job per device: agent/app/poll_schedule.py)
        self.poll_schedule: PollSchedule | None = None
        self._http: HttpServer | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._polling: set[str] = set()  # devices with a poll in flight
        self._stopping = False

    def _build_controller(
        self, cfg: SiteConfig, profiles: ProfileRegistry, recommender: Any, clock: Callable[[], float]
    ) -> CoolingController:
        rcfg = cfg.recommender
        assert rcfg is not None
        retrained = rcfg.retrain_model_dir
        if retrained is not None and not (retrained / "model.json").is_file():
            retrained = None  # nothing swapped in there yet
        if recommender is None and (retrained or rcfg.model_dir) is not None:
            from agent.control.artefact import load_model, trained_until_s

            # the last swapped-in retrained model, when it is kept apart from model_dir, else model_dir
            loaded = load_model(retrained or rcfg.model_dir)  # type: ignore[arg-type]
            recommender = recommender_for(loaded.model, rcfg)
            self._champion_last_row_s = trained_until_s(loaded.sidecar)
        actuator = SetpointActuator(cfg, profiles, self.devices, rcfg.action_log, clock)
        controller = CoolingController(cfg, rcfg, recommender, actuator, clock)
        self.api.recommendation = controller.recommendation_json
        self.api.approve = controller.approve
        self.api.reject = controller.reject
        self.api.actions = controller.actions_json
        return controller

    def start_http(self) -> tuple[str, int]:
        """Serve /metrics and the API; :class:`ConfigError` naming address and port when it cannot bind."""
        listen = self.cfg.listen
        limits = HttpLimits(request_timeout_s=listen.request_timeout_s, max_handlers=listen.max_handlers)
        self._http = make_http_server(self.registry, self.api, self.cfg.web, limits)
        address, port = listen.address, listen.port
        try:
            return self._http.start(address, port)
        except OSError as err:
            host = f"[{address}]" if ":" in address else address
            raise ConfigError(
                [
                    f"listen: cannot listen on {host}:{port}: {err.strerror or err} "
                    "(choose another listen.port or --listen-port)"
                ]
            ) from None

    def start_scheduler(self) -> None:
        """Start polling every enabled device on its phase, and the site tick (call in the running loop)."""
        interval = self.cfg.poll_interval_s
        enabled = [dev.name for dev in self.cfg.devices if dev.enabled]
        self.poll_schedule = PollSchedule(interval, self._start_poll)
        self.poll_schedule.begin(enabled)
        scheduler = AsyncIOScheduler(
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": int(max(1, interval))}
        )
        start = datetime.now(UTC)
        scheduler.add_job(
            self.site_tick,
            "interval",
            seconds=interval,
            id="site",
            next_run_time=start + timedelta(seconds=first_window_s(interval, len(enabled)) + 0.5),
        )
        if self.retrainer is not None and self.cfg.recommender is not None:
            scheduler.add_job(
                self.retrainer.run_once, "interval", hours=self.cfg.recommender.retrain_interval_h, id="retrain"
            )
        scheduler.start()
        self._scheduler = scheduler

    def _start_poll(self, device: str) -> None:
        """A scheduled poll: skipped and counted while the device's previous poll is still running."""
        if self._stopping:
            return
        if device in self._polling:
            self.state.polls_skipped[device] = self.state.polls_skipped.get(device, 0) + 1
            return
        asyncio.get_running_loop().create_task(self._scheduled_poll(device))

    async def _scheduled_poll(self, device: str) -> None:
        try:
            await self.poll(device)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug, not a device failure (the poller turns those into snapshots): log, go on
            log.exception("device %s: poll failed unexpectedly", device)

    async def poll(self, device: str) -> DeviceSnapshot | None:
        if self._stopping:
            return None
        if device in self._polling:  # a poll of it already running (poll_all_once beside the schedule)
            self.state.polls_skipped[device] = self.state.polls_skipped.get(device, 0) + 1
            return None
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        self._polling.add(device)
        try:
            snapshot = await self.poller.poll(device)
        except asyncio.CancelledError:
            if self._stopping:  # shutting down: a poll cut short is expected, not an error to log
                log.debug("device %s: poll cancelled at shutdown", device)
                return None
            raise
        finally:
            self._polling.discard(device)
            if task is not None:
                self._inflight.discard(task)
        for observer in self.observers:
            observer.on_snapshot(snapshot, self.state)
        return snapshot

    async def site_tick(self) -> SiteState:
        """A site tick: the accountant and the ``site_off_loop`` observers on the tick thread, over a copy of the
        state taken now in the loop; then the other observers in the event loop (they may start async work)."""
        view = self.state.frozen()
        now = self._clock()
        site = await asyncio.get_running_loop().run_in_executor(self._tick_pool, self._tick_off_loop, view, now)
        self.state.site = site
        for observer in self.observers:
            if not getattr(observer, "site_off_loop", False):
                observer.on_site(site, self.state)
        return site

    def _tick_off_loop(self, view: AgentState, now: float) -> SiteState:
        site = self.accountant.tick(view, now)
        for observer in self.observers:
            if getattr(observer, "site_off_loop", False):
                observer.on_site(site, view)
        return site

    async def poll_all_once(self) -> None:
        """Poll every device once, concurrently, then tick the site (used by tests and one-shots)."""
        await asyncio.gather(*(self.poll(d.name) for d in self.cfg.devices if d.enabled))
        await self.site_tick()

    async def stop(self) -> None:
        """Stop scheduling, let polls in flight finish (bounded by their SNMP timeout), then close."""
        self._stopping = True
        if self.poll_schedule is not None:
            self.poll_schedule.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._inflight:
            grace_s = max((d.timeout_s * (d.retries + 1) for d in self.cfg.devices), default=2.0) + 1.0
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5.0)
        if self.controller is not None:
            await self.controller.wait_idle()
        self._tick_pool.shutdown(wait=True)  # a tick under way finishes (well under a second)
        if self._http is not None:
            self._http.stop()
            self._http = None
        await self.devices.close()
