"""A minimal service for runtime tests: answers route_req with a park route_resp after a delay.

``python -m tests.support.echo_service`` runs it under the real runtime
(signals, drain, health endpoints); ``KZ_TEST_ECHO_DELAY`` sets the delay.
"""

from __future__ import annotations

import asyncio
import logging
import os

from services import exchanges as x
from services.messages import catalogue
from services.runtime import ServiceContext, run_services

log = logging.getLogger("echo")


class EchoService:
    name = "echo"

    def __init__(self, context: ServiceContext, delay: float) -> None:
        self._context = context
        self._delay = delay
        self._bus = None
        self._consumer = None

    async def start(self) -> None:
        self._bus = await self._context.bus("echo")
        self._consumer = await self._bus.consumer("echo_route_requests", auto_delete=True)
        await self._consumer.bind(x.CALLMGR, "route.req.audio.*")
        self._consumer.on(catalogue.lookup("dialplan", "route_req"), self._answer)
        await self._consumer.start()

    async def _answer(self, request) -> None:
        log.info("handling route_req, answering in %.1fs", self._delay)
        await asyncio.sleep(self._delay)
        await self._bus.publish(catalogue.lookup("dialplan", "route_resp"),
                                {"Msg-ID": request.msg_id, "Call-ID": request.call_id, "Method": "park"},
                                to=request.server_id)
        log.info("answered")

    async def stop(self, drain_timeout: float) -> bool:
        return await self._consumer.stop(drain_timeout)

    @property
    def ready(self) -> bool:
        return self._consumer is not None and self._consumer.running


def build(context: ServiceContext) -> EchoService:
    return EchoService(context, float(os.environ.get("KZ_TEST_ECHO_DELAY", "0")))


if __name__ == "__main__":
    raise SystemExit(run_services(["echo"], factories={"echo": build}))
