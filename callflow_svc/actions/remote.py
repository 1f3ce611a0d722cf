"""Run a node in another service over the remote-action protocol (callflow.md 3.5, bus.md 3.8).

Publish ``action.execute`` (mandatory) on ``callflow.action.<module>``; a
broker return means nobody serves the module: ``REMOTE_UNAVAILABLE``.  Then
wait, without a timeout, for the ``action.result`` with our Msg-ID and
Call-ID; ``action.accepted`` is only logged; ``CHANNEL_DESTROY`` ends the wait.
"""

from __future__ import annotations

import logging

from callflow_svc.actions.events import is_hangup
from callflow_svc.executor import children_of
from callflow_svc.outcomes import Continue, ContinueWithFlow, Stop, Transfer, Usurped
from services.bus import Unroutable
from services.bus.publisher import new_msg_id
from services.messages import catalogue, etf

log = logging.getLogger(__name__)

REMOTE_UNAVAILABLE = "REMOTE_UNAVAILABLE"


def outcome_of(result: etf.ActionResult):
    """The executor's outcome for a decoded result (bus.md 3.8.3)."""
    if result.kind == "continue":
        return Continue(result.value) if isinstance(result.value, str) and result.value else Continue()
    if result.kind == "continue_with_flow":
        return ContinueWithFlow(result.value)
    if result.kind == "stop":
        return Stop(result.value if isinstance(result.value, str) and result.value else None)
    if result.kind == "transfer":
        return Transfer()
    if result.kind == "usurp":
        return Usurped()
    return Continue()


async def run(ctx):
    module = ctx.module
    call = ctx.call
    action_id = new_msg_id()
    call.kvs["remote-action"] = module
    body = {
        "Msg-ID": action_id,
        "Call-ID": call.call_id,
        "Call": call.to_json(**{"action-exit-keys": list(children_of(ctx.root_flow))}),
        "Data": ctx.data,
    }
    try:
        await ctx.deps.bus.publish(catalogue.ACTION_EXECUTE, body, to=module, server_id=ctx.deps.server_id)
    except Unroutable:
        log.info("no service takes callflow.action.%s; continuing with %s", module, REMOTE_UNAVAILABLE)
        return Continue(REMOTE_UNAVAILABLE)
    while True:
        message = await ctx.next_event()
        if is_hangup(message):
            return Continue()
        if message.spec not in (catalogue.ACTION_ACCEPTED, catalogue.ACTION_RESULT):
            continue
        if message.msg_id != action_id or message.call_id != call.call_id:
            log.debug("ignoring %s for action %s", message.spec.key, message.msg_id)
            continue
        if message.spec is catalogue.ACTION_ACCEPTED:
            log.info("%s action %s accepted by %s", module, action_id, message.node or "?")
            continue
        try:
            result = etf.decode_result(message["Result"])
        except (ValueError, TypeError) as exc:
            log.warning("undecodable result of %s action %s (%s); continuing", module, action_id, exc)
            return Continue()
        log.info("%s action %s ended: %s", module, action_id, result.kind)
        return outcome_of(result)
