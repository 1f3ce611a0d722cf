"""Wiring of callflow_svc: ``build(context)`` returns the service the runtime starts.

Dependencies, in the order they are made: a bus connection of its own, the
store, the config client, the routing cache and lookup, the instance queue
``callflow_route_<32 hex>``, the calls registry with the executor's
dependencies and the call set-up, the route_req and route_win handlers, and
the listener.
"""

from __future__ import annotations

import logging
import os

from callflow_svc.actions import DEFAULT_REMOTE_MODULES, LOCAL_ACTIONS, REMOTE_ACTION
from callflow_svc.call_setup import CallSetup
from callflow_svc.calls import Calls
from callflow_svc.config import CallflowConfig
from callflow_svc.executor import ExecutorDeps
from callflow_svc.listener import CallflowListener
from callflow_svc.route_req import APP_NAME, RouteReq
from callflow_svc.route_win import RouteWin
from services.routing.cache import RoutingCache
from services.routing.lookup import Lookup
from services.runtime import ServiceEntry

log = logging.getLogger(__name__)


def route_queue_name() -> str:
    """KAZOO's name for a callflow listener queue: ``callflow_route_<32 hex>``."""
    return f"callflow_route_{os.urandom(16).hex()}"


class CallflowService:
    name = "callflow"

    def __init__(self, context, *, config_client=None, remote_modules=DEFAULT_REMOTE_MODULES) -> None:
        self._context = context
        self._config_client = config_client
        self._owns_config = config_client is None
        self.remote_modules = frozenset(remote_modules)
        self.bus = None
        self.cache = RoutingCache()
        self.listener: CallflowListener | None = None
        self.calls: Calls | None = None
        self.route_req: RouteReq | None = None
        self._started = False

    async def start(self) -> None:
        context = self._context
        self.bus = bus = await context.bus(APP_NAME)
        store = await context.store()
        if self._config_client is None:
            from services.config.client import ConfigClient
            self._config_client = await ConfigClient(bus).start()
        config = CallflowConfig(self._config_client)
        lookup = Lookup(store, self.cache)
        queue = await bus.reply_queue("callflow_route", name=route_queue_name(), exclusive=False, start=False)
        deps = ExecutorDeps(bus=bus, lookup=lookup, config=config, local_actions=LOCAL_ACTIONS,
                            remote_action=REMOTE_ACTION, remote_modules=self.remote_modules, server_id=queue.name)
        self.calls = Calls(queue.consumer, deps, prepare=CallSetup(lookup=lookup, config=config).prepare)
        route_win = RouteWin(calls=self.calls, server_id=queue.name)
        self.route_req = route_req = RouteReq(bus=bus, lookup=lookup, config=config, calls=self.calls,
                                              store=store, server_id=queue.name, metrics=context.metrics)
        self.listener = CallflowListener(bus, queue, route_req=route_req.handle, route_win=route_win.handle,
                                         calls=self.calls, cache=self.cache)
        await self.listener.start()
        self.calls.start_reaper(config.session_idle_timeout_s)
        self._started = True

    @property
    def server_id(self) -> str:
        return self.listener.queue.name if self.listener else ""

    async def stop(self, drain_timeout: float) -> bool:
        if self.listener is None:
            return True
        drained = await self.listener.stop_consuming(drain_timeout)
        drained = await self.calls.drain(drain_timeout) and drained
        await self.listener.close()
        if self._owns_config and self._config_client is not None:
            await self._config_client.close()
        return drained

    @property
    def ready(self) -> bool:
        """Started, and every consumer on its bus consuming: the route, cache and destroy queues and
        the config client's (services.runtime, "Readiness")."""
        return self._started and self.bus.ready


def build(context, **options) -> CallflowService:
    return CallflowService(context, **options)


SERVICE = ServiceEntry(build=build, starts_after=("config",))
