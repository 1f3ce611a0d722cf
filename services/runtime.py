"""Process lifecycle shared by every service.

* ``SERVICE_FACTORIES`` names each service's ``build(context)``; a service whose
  package is not installed is simply not available.
* ``Runtime`` starts the chosen services, serves ``/healthz``, ``/readyz`` and
  ``/metrics`` on ``KZ_HTTP_PORT``, and on SIGTERM/SIGINT stops consuming,
  lets in-flight work finish (``KZ_DRAIN_SECONDS``) and returns 0.

A service is any object with ``name``, ``async start()``, ``async stop(drain_timeout)``
and a ``ready`` property; it gets its dependencies from the ``ServiceContext``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import signal
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from aiohttp import web

from services.bus import Bus, open_transport
from services.metrics import Metrics
from services.settings import Settings

log = logging.getLogger(__name__)

# name -> "module:function"; the function takes a ServiceContext and returns a Service.
SERVICE_FACTORIES: dict[str, str] = {
    "config": "config_svc.app:build",
    "callflow": "callflow_svc.app:build",
    "voicemail": "voicemail_svc.app:build",
}


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self, drain_timeout: float) -> bool: ...

    @property
    def ready(self) -> bool: ...


class NoServices(RuntimeError):
    pass


def available_services() -> dict[str, Callable[["ServiceContext"], Service]]:
    """The services whose packages exist in this installation, by name."""
    found = {}
    for name, target in SERVICE_FACTORIES.items():
        module_name, _, func = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        found[name] = getattr(module, func)
    return found


@dataclass
class ServiceContext:
    """What a service may use; built once per process and shared by its services."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    _store: Any = None
    _validator: Any = None
    _buses: list[Bus] = field(default_factory=list)

    @property
    def validator(self):
        if self._validator is None:
            from services.messages.validation import Validator
            self._validator = Validator(self.settings.schema_dir)
        return self._validator

    async def bus(self, app_name: str) -> Bus:
        """A started bus connection of its own for one service."""
        connection = f"{app_name}@{self.settings.node}"
        transport = open_transport(self.settings.amqp_url, tls=self.settings.tls, connection_name=connection)
        bus = Bus(transport, self.validator, app_name=app_name, node=self.settings.node, metrics=self.metrics)
        await bus.start()
        self.metrics.broker_connected(connection, transport.node)
        transport.on_reconnect(lambda: self.metrics.broker_connected(connection, transport.node, reconnected=True))
        self._buses.append(bus)
        return bus

    async def store(self):
        """The document store of ``KZ_STORE_URL``, opened once per process."""
        if self._store is None:
            from services.store import open_store
            self._store = await open_store(self.settings.store_url)
        return self._store

    async def close(self) -> None:
        for bus in self._buses:
            try:
                await bus.close()
            except Exception as exc:
                log.debug("closing a bus: %s", exc)
        self._buses.clear()
        if self._store is not None:
            await self._store.close()
            self._store = None


class HealthServer:
    """``/healthz`` (process alive), ``/readyz`` (every service consuming), ``/metrics``."""

    def __init__(self, *, host: str, port: int, ready: Callable[[], bool], metrics: Metrics) -> None:
        self._host = host
        self._port = port
        self._ready = ready
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_view)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else self._port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _request: web.Request) -> web.Response:
        if self._ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready\n")

    async def _metrics_view(self, _request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), content_type="text/plain", charset="utf-8")


def settle_heap(gen0: int) -> None:
    """Garbage-collector policy once the services have started (docs/performance.md, "Profile").

    Start-up objects (schemas, the catalogue, a memory store's documents) live as long as the
    process, so they are frozen out of every collection.  And the young generation is collected
    every ``gen0`` allocations instead of 700: a routed call's objects (its pending win, its
    messages) live for seconds and were walked again and again; in the route benchmark the
    collector took about 100 us per route_req at Python's defaults and about 6 us with this
    policy.  Reference counting still frees at once everything that is not in a cycle."""
    gc.freeze()
    if gen0 > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0, gen1, gen2)


class Runtime:
    def __init__(self, settings: Settings, names: list[str] | None = None, *,
                 context: ServiceContext | None = None,
                 factories: dict[str, Callable[[ServiceContext], Service]] | None = None) -> None:
        self.settings = settings
        self.context = context or ServiceContext(settings)
        known = list(factories) if factories is not None else list(SERVICE_FACTORIES)
        factories = available_services() if factories is None else factories
        if not factories:
            raise NoServices("no services are installed: none of " + ", ".join(known) + " exists yet")
        wanted = names or list(factories)
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise NoServices(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(known)}")
        missing = [n for n in wanted if n not in factories]
        if missing:
            raise NoServices(f"service(s) not available in this installation: {', '.join(missing)}")
        self._factories = [(n, factories[n]) for n in wanted]
        self.services: list[Service] = []
        self.health: HealthServer | None = None
        self._stopping = asyncio.Event()

    @property
    def service_names(self) -> list[str]:
        """The services this runtime runs, in start order."""
        return [name for name, _ in self._factories]

    @property
    def ready(self) -> bool:
        return bool(self.services) and all(s.ready for s in self.services)

    def request_stop(self) -> None:
        self._stopping.set()

    async def start(self) -> None:
        self.health = HealthServer(host=self.settings.http_host, port=self.settings.http_port,
                                   ready=lambda: self.ready, metrics=self.context.metrics)
        await self.health.start()
        for name, factory in self._factories:
            service = factory(self.context)
            await service.start()
            self.services.append(service)
            log.info("%s service started", name)
        settle_heap(self.settings.gc_gen0)
        log.info("ready: %s (health on port %s)", ", ".join(n for n, _ in self._factories), self.health.port)

    async def stop(self) -> bool:
        drained = True
        for service in reversed(self.services):
            try:
                drained = await service.stop(self.settings.drain_seconds) and drained
            except Exception:
                log.exception("stopping %s failed", service.name)
                drained = False
        await self.context.close()
        if self.health is not None:
            await self.health.stop()
        return drained

    async def run_until_signalled(self, on_started: Callable[[], Awaitable[None]] | None = None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            if on_started is not None:
                await on_started()
            await self._stopping.wait()
            log.info("stop requested; draining in-flight work (up to %.0fs)", self.settings.drain_seconds)
        finally:
            drained = await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        if not drained:
            log.warning("some work did not finish within the drain time")
        return 0


def run_services(names: list[str] | None, settings: Settings | None = None, *,
                 factories: dict[str, Callable[[ServiceContext], Service]] | None = None) -> int:
    """Entry point of ``kzvoice run`` and ``python -m <service>``."""
    from services.logging import configure
    from services.settings import SettingsError
    try:
        settings = settings or Settings.from_env()
    except SettingsError as exc:
        print(f"kzvoice: {exc}")
        return 2
    configure(settings.log_level, settings.log_format)
    try:
        runtime = Runtime(settings, names, factories=factories)
    except NoServices as exc:
        log.error("%s", exc)
        print(f"kzvoice: {exc}")
        return 3
    try:
        return asyncio.run(runtime.run_until_signalled())
    except Exception as exc:
        from services.bus import BrokerUnavailable
        if isinstance(exc, BrokerUnavailable):
            log.error("%s", exc)
            return 4
        raise
