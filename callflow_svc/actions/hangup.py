"""``hangup`` (KAZOO cf_hangup): a queued hangup, then a hard stop."""

from __future__ import annotations

from callflow_svc.outcomes import HardStop


async def run(ctx) -> HardStop:
    await ctx.command("hangup")
    return HardStop()
