"""``play`` (KAZOO cf_play): answer unless told not to, play one media, wait until it has played."""

from __future__ import annotations

import asyncio

from callflow_svc.actions.events import completes, failed, is_hangup
from callflow_svc.outcomes import Continue, HardStop
from services.bus.publisher import new_msg_id

ALL_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]


def media_path(media_id: str, account_id: str) -> str:
    """A bare media id becomes ``/<account id>/<id>`` (bus.md 5.1); paths and URLs stay as they are."""
    if media_id.startswith("/") or "://" in media_id:
        return media_id
    return f"/{account_id}/{media_id}"


async def run(ctx):
    media_id = ctx.data.get("id")
    if not isinstance(media_id, str) or not media_id:
        return Continue()
    if ctx.data.get("answer", True) not in (False, "false"):
        await ctx.command("answer")
        await asyncio.sleep(max(0, await ctx.deps.config.post_answer_delay_ms()) / 1000)
    terminators = ctx.data.get("terminators")
    play = {"Application-Name": "play", "Call-ID": ctx.call.call_id,
            "Media-Name": media_path(media_id, ctx.call.account_id),
            "Terminators": terminators if isinstance(terminators, list) else ALL_KEYS,
            "Endless-Playback": ctx.data.get("endless_playback") in (True, "true")}
    loop_count = ctx.data.get("loop_count")
    if isinstance(loop_count, int) and not isinstance(loop_count, bool) and loop_count > 0:
        play["Loop-Count"] = loop_count
    noop_id = new_msg_id()
    noop = {"Application-Name": "noop", "Call-ID": ctx.call.call_id, "Msg-ID": noop_id}
    # marker first: the gateway runs a tail queue in reverse, so the noop completes last (bus.md 4.1)
    await ctx.command("queue", Commands=[noop, play])
    event = await ctx.wait_for(lambda m: completes(m, "noop", noop_id) or failed(m, "noop") or is_hangup(m))
    if is_hangup(event):
        return HardStop()
    return Continue()
