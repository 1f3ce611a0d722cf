"""Wiring of voicemail_svc: ``build(context)`` returns the service the runtime starts.

Dependencies, in order: a bus connection of its own, the call-command timers,
the session entry point, and the listener that takes actions and owns the
sessions.
"""

from __future__ import annotations

import logging

from voicemail_svc.call_control import Timers
from voicemail_svc.listener import ACTIONS_QUEUE, SessionRunner, VoicemailListener
from voicemail_svc.session import run_session

log = logging.getLogger(__name__)

APP_NAME = "voicemail"


class VoicemailService:
    name = "voicemail"

    def __init__(self, context, *, timers: Timers | None = None, session: SessionRunner = run_session,
                 queue: str = ACTIONS_QUEUE) -> None:
        self._context = context
        self._timers = timers or Timers()
        self._session = session
        self._queue = queue
        self.bus = None
        self.listener: VoicemailListener | None = None

    async def start(self) -> None:
        self.bus = await self._context.bus(APP_NAME)
        self.listener = VoicemailListener(self.bus, self._session, timers=self._timers, queue=self._queue)
        await self.listener.start()

    async def stop(self, drain_timeout: float) -> bool:
        if self.listener is None:
            return True
        return await self.listener.stop(drain_timeout)

    @property
    def ready(self) -> bool:
        return self.listener is not None and self.listener.running


def build(context, **options) -> VoicemailService:
    return VoicemailService(context, **options)
