"""Callback (key 9) during playback (voicemail.md 5.7), with the restriction check fixed.

KAZOO inverts its restriction test and so only ever applies the account's
``call_restriction``.  Here (spec README, defects we fix) the caller's own
restrictions decide: the authorizing device, then its owner (else the box
owner), then the account -- the first document that has a rule for the
number's classification wins.  The number is normalised with the account's
``dial_plan`` and the E.164 converters, then looked up like a dialled number
with the service's one finder, ``deps.find_callflow`` (exact, patterns, then
the account's ``no_match`` callflow, which 5.7 step 4 accepts).

``callback`` returns the module result (``continue_with_flow`` with the
callback flow) or ``None`` after playing why it cannot call back (the
player then replays the message).  The executor cannot be told a new
Request/To over the remote protocol (bus.md 3.8.3), so the callback flow
runs with the call as it is (docs/deviations.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from services.messages.etf import ActionResult
from services.routing.numbers import normalize
from voicemail_svc.boxes.mailbox import Mailbox
from voicemail_svc.call_control import CallControl
from voicemail_svc.check.env import CheckEnv

log = logging.getLogger(__name__)

# KAZOO's default number classifiers (knm_converters), in their order
CLASSIFIERS: tuple[tuple[str, str], ...] = (
    ("emergency", r"^\+?911$"),
    ("caribbean", r"^\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939|869"
                  r"|758|784|721|868|649|340)\d{7})$"),
    ("tollfree_us", r"^\+1((?:800|888|877|866|855|844|833)\d{7})$"),
    ("toll_us", r"^\+1(900\d{7})$"),
    ("did_us", r"^\+1([2-9][0-9]{2}[2-9][0-9]{6})$"),
    ("international", r"^(011\d*)$|^(00\d*)$|^\+[2-9]\d{7,}$"),
    ("unknown", r".*"),
)


def classify(number: str) -> str:
    for name, pattern in CLASSIFIERS:
        if re.search(pattern, number):
            return name
    return "unknown"


def _denies(doc: Mapping[str, Any] | None, classification: str) -> bool | None:
    """True/False when ``doc`` has a rule for the classification, None when it has none."""
    if not isinstance(doc, Mapping):
        return None
    restrictions = doc.get("call_restriction")
    rule = restrictions.get(classification) if isinstance(restrictions, Mapping) else None
    if not isinstance(rule, Mapping) or rule.get("action") not in ("deny", "inherit", "allow"):
        return None
    if rule["action"] == "inherit":
        return None
    return rule["action"] == "deny"


async def callback(call: CallControl, env: CheckEnv, box: Mailbox, message: Mapping[str, Any]) -> ActionResult | None:
    metadata = message.get("metadata") if isinstance(message.get("metadata"), Mapping) else {}
    number = metadata.get("caller_id_number")
    if not isinstance(number, str) or not number:
        await call.play(call.prompt("vm-not_available"))
        return None
    mailboxes, info = env.mailboxes, env.call_info
    account = await mailboxes.account(env.account_id) or {}
    normalized = normalize(number, dial_plan=account.get("dial_plan"))
    classification = classify(normalized)
    device = await mailboxes.device(env.account_id, info.authorizing_id) if info.authorizing_id else None
    owner_id = (device or {}).get("owner_id") or info.owner_id or box.owner_id
    owner = await mailboxes.user(env.account_id, owner_id) if isinstance(owner_id, str) and owner_id else None
    for doc in (device, owner, account):
        verdict = _denies(doc, classification)
        if verdict is None:
            continue
        if verdict:
            log.info("callback to %s (%s) denied by %s", normalized, classification, doc.get("_id"))
            await call.play(call.prompt("cf-unauthorized_call"))
            return None
        break
    found = await env.deps.find_callflow(env.account_id, normalized, no_match=True)
    flow = found.get("flow") if isinstance(found, Mapping) else None
    if not isinstance(flow, Mapping):
        await call.play(call.prompt("fault-can_not_be_completed_as_dialed"))
        return None
    log.info("calling back %s through callflow %s", normalized, found.get("_id"))
    return ActionResult("continue_with_flow", dict(flow))

