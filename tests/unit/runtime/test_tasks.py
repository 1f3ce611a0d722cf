"""Background loops stop when their owner cancels them, even if the cancel gets lost on the way
(services.tasks.raise_if_cancelling).

Python 3.11's ``asyncio.wait_for`` drops a cancel that arrives as its future completes.  A
reaper cancelled while it read its idle limit over the bus then slept and reaped on for ever,
and the service's stop (SIGTERM) waited for it without end.
"""

from __future__ import annotations

import asyncio

from services.tasks import reap_idle_forever


async def test_a_reaper_stops_even_if_the_cancel_is_lost_while_reading_its_limit():
    reading = asyncio.Event()
    reaped: list[float] = []

    async def idle_limit() -> float:
        reading.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass                        # what 3.11's wait_for does when the reply lands with the cancel
        return 60.0

    task = asyncio.create_task(reap_idle_forever(idle_limit, lambda idle: reaped.append(idle) or 0))
    await reading.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2.0)
    assert done == {task}, "the reaper carried on after it was cancelled"
    assert task.cancelled()
    assert reaped == []
