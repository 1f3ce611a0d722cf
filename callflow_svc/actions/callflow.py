"""``callflow`` (KAZOO cf_callflow): branch to another callflow of the account, by ``id``."""

from __future__ import annotations

import logging

from callflow_svc.outcomes import Branch, Continue

log = logging.getLogger(__name__)


async def run(ctx):
    callflow_id = ctx.data.get("id")
    doc = None
    if isinstance(callflow_id, str) and callflow_id:
        doc = await ctx.deps.lookup.callflow_doc(ctx.call.account_id, callflow_id)
    if doc is None:
        log.info("callflow %r not found; continuing", callflow_id)
        return Continue()
    flow = doc.get("flow")
    return Branch(flow if isinstance(flow, dict) else {})
