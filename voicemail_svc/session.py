"""One voicemail action on one call: dispatch on ``data["action"]`` (voicemail.md 1).

``compose`` and ``check`` are not implemented yet: both answer the call (as
the module does before anything else) and return ``continue``, logging that
nothing more happened.  Any other action does nothing at all and returns
``continue`` (voicemail.md 1, ``action``).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Mapping

from services.messages.etf import ActionResult
from voicemail_svc.call_control import CallControl

log = logging.getLogger(__name__)

CONTINUE = ActionResult("continue")

Action = Callable[[CallControl, Mapping[str, Any], Mapping[str, Any]], Awaitable[ActionResult]]


async def _not_implemented(name: str, call: CallControl) -> ActionResult:
    await call.answer()
    log.warning("voicemail action %r is not implemented yet: answered and continuing", name)
    return CONTINUE


async def compose(call: CallControl, data: Mapping[str, Any], call_info: Mapping[str, Any]) -> ActionResult:
    return await _not_implemented("compose", call)


async def check(call: CallControl, data: Mapping[str, Any], call_info: Mapping[str, Any]) -> ActionResult:
    return await _not_implemented("check", call)


ACTIONS: Mapping[str, Action] = {"compose": compose, "check": check}


def action_name(data: Mapping[str, Any]) -> str:
    """``data.action``; missing or empty means ``compose``."""
    value = data.get("action")
    return value if isinstance(value, str) and value else "compose"


async def run_session(call: CallControl, data: Mapping[str, Any], call_info: Mapping[str, Any]) -> ActionResult:
    name = action_name(data)
    action = ACTIONS.get(name)
    if action is None:
        log.info("unknown voicemail action %r: nothing to do, continuing", name)
        return CONTINUE
    return await action(call, data, call_info)
