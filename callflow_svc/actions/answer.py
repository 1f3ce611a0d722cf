"""``answer`` (KAZOO cf_answer): answer, wait for its completion (5 s, errors ignored), continue."""

from __future__ import annotations

import asyncio

from callflow_svc.actions.events import completes, failed, is_hangup
from callflow_svc.outcomes import Continue

ANSWER_TIMEOUT = 5.0


async def run(ctx) -> Continue:
    await ctx.command("answer")
    try:
        await ctx.wait_for(lambda m: completes(m, "answer") or failed(m, "answer") or is_hangup(m),
                           timeout=ANSWER_TIMEOUT)
    except asyncio.TimeoutError:
        pass
    return Continue()
