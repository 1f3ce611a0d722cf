"""Wiring of config_svc: ``build(context)`` returns the service the runtime starts.

Dependencies, in the order they are made: the store and a bus connection of
its own (from the context), the announcer (events on ``configuration``), the
writer, the reader, and the ``sysconf_listener`` consumer.
"""

from __future__ import annotations

import logging

from services.config.announce import Announcer
from config_svc.listener import SysconfListener
from config_svc.reads import Reads
from config_svc.writes import Writes
from services.runtime import ServiceEntry

log = logging.getLogger(__name__)

APP_NAME = "config_svc"


class ConfigService:
    name = "config"

    def __init__(self, context, *, locked: bool | None = None) -> None:
        self._context = context
        self._locked = context.settings.system_config_locked if locked is None else locked
        self.bus = None
        self.reads: Reads | None = None
        self.writes: Writes | None = None
        self.listener: SysconfListener | None = None
        self._started = False

    async def start(self) -> None:
        settings = self._context.settings
        store = await self._context.store()
        self.bus = await self._context.bus(APP_NAME)
        self.writes = Writes(store, Announcer(self.bus), node=settings.node, locked=self._locked)
        self.reads = Reads(store, self.writes, zone=settings.zone)
        self.listener = SysconfListener(self.bus, self.reads, self.writes)
        await self.listener.start()
        self._started = True
        log.info("config_svc consuming sysconf_listener (node %s, zone %s%s)", settings.node, settings.zone,
                 ", system_config locked" if self._locked else "")

    async def stop(self, drain_timeout: float) -> bool:
        if self.bus is None:
            return True
        return await self.bus.stop_consuming(drain_timeout)

    @property
    def ready(self) -> bool:
        """Started, and ``sysconf_listener`` consuming (services.runtime, "Readiness")."""
        return self._started and self.bus.ready


def build(context, **options) -> ConfigService:
    return ConfigService(context, **options)


SERVICE = ServiceEntry(build=build)
