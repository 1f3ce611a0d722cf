"""Owned background work: every task has an owner that logs its failure and can drain it.

``OwnedTasks`` keeps the tasks a component starts (per-call flows, saves that
outlive their call), logs any that fail, and on shutdown waits for them and
cancels what outlives the drain time.  ``reap_idle_forever`` is the loop of an
idle reaper: it asks for the idle limit, reaps, and sleeps a quarter of that
limit (bounded), so abandoned calls are found without polling all the time.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Awaitable, Callable, Coroutine

log = logging.getLogger(__name__)

REAP_CHECK_MAX_S = 30.0     # a reaper looks at least this often
REAP_CHECK_MIN_S = 0.05


class OwnedTasks:
    def __init__(self, what: str = "task") -> None:
        self._what = what
        self._tasks: set[asyncio.Task] = set()
        self.failed = 0

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str,
              context: contextvars.Context | None = None) -> asyncio.Task:
        """Start ``coro`` as an owned task, in ``context`` if given (services.logging.call_context)."""
        task = asyncio.get_running_loop().create_task(coro, name=name, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failed += 1
            log.error("%s %s failed", self._what, task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> bool:
        """Wait for running work; cancel what is left after ``timeout``. True when all finished."""
        if not self._tasks:
            return True
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
        return not pending


def raise_if_cancelling() -> None:
    """Raise ``CancelledError`` in a task that was asked to stop, even if that request got lost.

    Python 3.11's ``asyncio.wait_for`` drops a cancel that arrives as its future completes, so a
    loop that awaits through it (a config read, an event with a timeout) may carry on after its
    owner cancelled it, and the owner then waits for ever.  Such loops call this once a round."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()


async def reap_idle_forever(idle_limit: Callable[[], Awaitable[float]], reap: Callable[[float], int]) -> None:
    """Call ``reap(limit)`` every quarter of the idle limit; a limit of 0 (or an error) turns reaping off."""
    while True:
        try:
            idle = float(await idle_limit())
        except Exception as exc:          # config unreachable: try again at the next round
            log.debug("reaper: no idle limit (%s)", exc)
            idle = 0.0
        raise_if_cancelling()
        if idle > 0:
            reap(idle)
        await asyncio.sleep(min(max(idle / 4, REAP_CHECK_MIN_S), REAP_CHECK_MAX_S) if idle > 0
                            else REAP_CHECK_MAX_S)
