"""Process lifecycle shared by every service.

* Services register themselves: each package names its ``ServiceEntry`` under the
  ``kzvoice.services`` entry points (``services/registry.py``); ``load_services``
  imports the ones asked for, in start order.
* ``Runtime`` starts the chosen services, serves ``/healthz``, ``/readyz`` and
  ``/metrics`` on ``KZ_HTTP_PORT``, and on SIGTERM/SIGINT stops consuming,
  lets in-flight work finish (``KZ_DRAIN_SECONDS``) and returns 0.

A service is any object with ``name``, ``async start()``, ``async stop(drain_timeout)``
and a ``ready`` property; it gets its dependencies from the ``ServiceContext``.

Readiness (``/readyz``): 200 only once every service of the process has returned from
``start()`` and each says it is ready, and never again once a stop is requested.  A service
is ready when its start is over and every consumer on its own bus consumes
(``services.bus.Bus.ready``): its queues are declared, bound (bindings are made before
``start()`` returns) and consumed.  So a consumer a service adds to its bus during its start
(a media responder, say) counts for readiness with no further wiring.  While not ready,
``/readyz`` answers 503 naming what it waits for.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine, Protocol

from aiohttp import web

from services import registry
from services.bus import Bus, open_transport
from services.messages.validation import Validator
from services.metrics import Metrics
from services.settings import Settings
from services.store import Store, open_store

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self, drain_timeout: float) -> bool: ...

    @property
    def ready(self) -> bool: ...


class NoServices(RuntimeError):
    pass


Factory = Callable[["ServiceContext"], Service]


@dataclass(frozen=True)
class ServiceEntry:
    """What a service package registers under the ``kzvoice.services`` entry points (or just
    its ``build`` function, when it has no ``starts_after``).

    ``build(context)`` makes the service.  ``starts_after`` names services that, when they
    run in the same process, start before this one and stop after it (the ones it reads
    through on the bus, so that they are there for its whole life)."""

    build: Factory
    starts_after: tuple[str, ...] = ()


def registered_services(source: registry.EntryPointSource = registry.installed) -> list[str]:
    """The names of the installed services, without importing them."""
    return [plugin.name for plugin in registry.plugins(registry.SERVICES_GROUP, source)]


def load_services(names: list[str] | None = None, source: registry.EntryPointSource = registry.installed
                  ) -> dict[str, Factory]:
    """The factories of ``names`` (default: every installed service) in start order.

    Raises ``NoServices`` when nothing is installed, a name is unknown, an entry point
    cannot be imported or is neither a ``ServiceEntry`` nor a build function, or ``starts_after``
    goes round in a circle."""
    found = {plugin.name: plugin for plugin in registry.plugins(registry.SERVICES_GROUP, source)}
    if not found:
        raise NoServices(f"no services are installed: no {registry.SERVICES_GROUP} entry points "
                         f"(install the package: pip install -e .)")
    wanted = list(dict.fromkeys(names)) if names else list(found)
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise NoServices(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(found)}")
    entries: dict[str, ServiceEntry] = {}
    for name in wanted:
        plugin = found[name]
        try:
            entry = plugin.load()
        except registry.PluginError as exc:
            raise NoServices(f"service {name!r} is installed but cannot start: {exc}") from exc
        if not isinstance(entry, ServiceEntry):
            if not callable(entry):
                raise NoServices(f"service {name!r}: {plugin.target} is a {type(entry).__name__}, "
                                 f"neither a ServiceEntry nor a build function")
            entry = ServiceEntry(build=entry)
        entries[name] = entry
    return {name: entries[name].build for name in start_order(entries)}


def start_order(entries: dict[str, ServiceEntry]) -> list[str]:
    """The names in the order given, except that each comes after the ones it ``starts_after``."""
    ordered: list[str] = []
    waiting = list(entries)
    while waiting:
        ready = next((n for n in waiting
                      if all(d in ordered or d not in entries for d in entries[n].starts_after)), None)
        if ready is None:
            raise NoServices(f"services wait for each other to start: {', '.join(waiting)}")
        ordered.append(ready)
        waiting.remove(ready)
    return ordered


class ServiceContext:
    """What a service may use; built once per process and shared by its services.

    The store of ``KZ_STORE_URL`` and the validator of ``KZ_SCHEMA_DIR`` are made on first
    use.  A ``store`` or ``validator`` given here is used instead; a given store belongs to
    whoever gave it (they close it), one the context opened is closed by ``close``."""

    def __init__(self, settings: Settings, *, metrics: Metrics | None = None, store: Store | None = None,
                 validator: Validator | None = None) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else Metrics()
        self._store = store
        self._owns_store = store is None
        self._validator = validator
        self._buses: list[Bus] = []

    @property
    def validator(self) -> Validator:
        if self._validator is None:
            self._validator = Validator(self.settings.schema_dir)
        return self._validator

    @property
    def buses(self) -> tuple[Bus, ...]:
        """The bus connections handed out so far, oldest first."""
        return tuple(self._buses)

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

    async def store(self) -> Store:
        """The document store: the one given, else that of ``KZ_STORE_URL``, opened once per process."""
        if self._store is None:
            self._store = await open_store(self.settings.store_url)
            self._owns_store = True
        return self._store

    async def close(self) -> None:
        for bus in self._buses:
            try:
                await bus.close()
            except Exception as exc:
                log.debug("closing a bus: %s", exc)
        self._buses.clear()
        if self._store is not None and self._owns_store:
            await self._store.close()
            self._store = None


class HealthServer:
    """``/healthz`` (process alive), ``/readyz`` (every service consuming), ``/metrics``.

    ``waiting_for()`` lists what readiness still waits for; an empty list means ready."""

    def __init__(self, *, host: str, port: int, waiting_for: Callable[[], list[str]], metrics: Metrics) -> None:
        self._host = host
        self._port = port
        self._waiting_for = waiting_for
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
        waiting = self._waiting_for()
        if not waiting:
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready: " + ", ".join(waiting) + "\n")

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


class EventLoopUnavailable(RuntimeError):
    """The event loop asked for (KZ_EVENT_LOOP) cannot be used here."""


def run_async(main: Coroutine[Any, Any, Any], event_loop: str = "asyncio") -> Any:
    """``asyncio.run(main)`` on the event loop ``event_loop`` names (``Settings.event_loop``,
    KZ_EVENT_LOOP): ``asyncio`` (the standard loop) or ``uvloop``."""
    if event_loop == "asyncio":
        return asyncio.run(main)
    if event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            main.close()
            raise EventLoopUnavailable("KZ_EVENT_LOOP=uvloop, but uvloop is not installed: install the fast extra "
                                       "(pip install 'kzvoice[fast]', or pip install uvloop), or set "
                                       "KZ_EVENT_LOOP=asyncio") from None
        return uvloop.run(main)
    main.close()
    raise EventLoopUnavailable(f"unknown event loop {event_loop!r}: expected asyncio or uvloop")


class Runtime:
    def __init__(self, settings: Settings, names: list[str] | None = None, *,
                 context: ServiceContext | None = None, factories: dict[str, Factory] | None = None) -> None:
        """``factories`` (name -> build, in start order) replaces the installed services."""
        self.settings = settings
        self.context = context or ServiceContext(settings)
        if factories is None:
            self._factories = list(load_services(names).items())
        else:
            if not factories:
                raise NoServices("no services are installed")
            wanted = names or list(factories)
            unknown = [n for n in wanted if n not in factories]
            if unknown:
                raise NoServices(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(factories)}")
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
        return not self.waiting_for()

    def waiting_for(self) -> list[str]:
        """Why the process is not ready (empty when it is): a stop under way, services whose start
        has not returned yet, started services not consuming on every queue of theirs."""
        if self._stopping.is_set():
            return ["stopping"]
        names = self.service_names
        waiting = [f"{name} (not consuming on every queue)"
                   for name, service in zip(names, self.services) if not service.ready]
        waiting += [f"{name} (starting)" for name in names[len(self.services):]]
        return waiting

    def request_stop(self) -> None:
        self._stopping.set()

    async def start(self) -> None:
        self.health = HealthServer(host=self.settings.http_host, port=self.settings.http_port,
                                   waiting_for=self.waiting_for, metrics=self.context.metrics)
        await self.health.start()
        for name, factory in self._factories:
            service = factory(self.context)
            await service.start()
            self.services.append(service)
            log.info("%s service started", name)
        settle_heap(self.settings.gc_gen0)
        log.info("ready: %s (health on port %s)", ", ".join(n for n, _ in self._factories), self.health.port)

    async def stop(self) -> bool:
        self._stopping.set()            # not ready from here on, however the stop came
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
                 factories: dict[str, Factory] | None = None) -> int:
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
        return run_async(runtime.run_until_signalled(), settings.event_loop)
    except EventLoopUnavailable as exc:
        log.error("%s", exc)
        print(f"kzvoice: {exc}")
        return 2
    except Exception as exc:
        from services.bus import BrokerUnavailable
        if isinstance(exc, BrokerUnavailable):
            log.error("%s", exc)
            return 4
        raise
