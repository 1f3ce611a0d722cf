"""One call's messages, published one after the other in the order they were put (bus.md 3.5)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from services.messages.spec import MessageSpec

log = logging.getLogger(__name__)


class Outbox:
    """Publishes one call's messages one after the other, in the order they were put."""

    def __init__(self, publish: Callable[..., Awaitable[Any]], *, name: str = "") -> None:
        self._publish = publish
        self._queue: asyncio.Queue[tuple[MessageSpec, dict[str, Any], str | None] | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"outbox-{name}")
        self.published = 0
        self.failed = 0

    def put(self, spec: MessageSpec, fields: dict[str, Any], to: str | None = None) -> None:
        """Queue one message; ``to`` names the destination of point-to-point messages."""
        self._queue.put_nowait((spec, fields, to))

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                spec, fields, to = item
                try:
                    await self._publish(spec, fields, to)
                    self.published += 1
                except Exception:
                    self.failed += 1
                    log.exception("publishing %s failed", spec.key)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        self._queue.put_nowait(None)
        await self._task
