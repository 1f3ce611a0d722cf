"""``sleep`` (KAZOO cf_sleep): wait ``duration`` ``unit``s (capped at 24 h), sending nothing."""

from __future__ import annotations

import asyncio

from callflow_svc.actions.events import is_hangup
from callflow_svc.outcomes import Continue, Stop

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_SECONDS = 24 * 3600.0


def seconds(data) -> float:
    try:
        duration = int(data.get("duration", 0))
    except (TypeError, ValueError):
        duration = 0
    unit = UNITS.get(data.get("unit", "s"), 1.0)
    return min(max(duration, 0) * unit, MAX_SECONDS)


async def run(ctx):
    try:
        await ctx.wait_for(is_hangup, timeout=seconds(ctx.data))
    except asyncio.TimeoutError:
        return Continue()
    return Stop()
