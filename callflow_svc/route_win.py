"""route_win: take over the call we answered and run its flow (callflow.md 3.2, 3.3).

The handler itself only checks and hands over (so the queue keeps moving); the
call's own task sets it up (``call_setup.py``) before its first node runs.
"""

from __future__ import annotations

import logging

from callflow_svc.calls import Calls
from services.messages.spec import Message

log = logging.getLogger(__name__)


class RouteWin:
    def __init__(self, *, calls: Calls, server_id: str) -> None:
        self._calls = calls
        self.server_id = server_id

    async def handle(self, message: Message) -> None:
        pending = self._calls.take_win(message["Call-ID"])
        if pending is None:
            log.info("route_win for a call this instance is not waiting for; ignored")
            return
        call = pending.call
        call.apply_route_win(message, controller_queue=self.server_id, callflow_id=pending.found.callflow_id)
        call.kvs["cf_flow"] = pending.flow
        self._calls.start(call, pending.flow)
