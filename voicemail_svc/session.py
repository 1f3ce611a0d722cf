"""One voicemail action on one call: dispatch on ``data["action"]`` (voicemail.md 1).

``Sessions(deps).run(call, data, call_info)`` is what the listener runs for
each action: ``compose`` (compose.py), ``check`` (check.py, when present),
anything else does nothing at all and returns ``continue`` (no answer).

``Deps`` holds what a session may use, built once per service in app.py.

Hand-over to check (the contract between compose and check)
    ``deps.check`` is ``voicemail_svc.check.run_check`` when that module
    exists, with the signature::

        async def run_check(deps: Deps, call: CallControl, info: CallInfo,
                            data: Mapping[str, Any], *, box: Mailbox | None) -> ActionResult

    The ``check`` action calls it with ``box=None`` (answer, resolve, log in).
    Compose calls it with the box it resolved (voicemail.md 4.1 R1/R2, 4.2
    and 4.4 login key, 4.5 login key): the call is already answered, login
    (5.3) runs against that box with ``is_owner`` recomputed, and the
    end-of-check MWI is for that box.  Without a check module, both answer
    (if not yet answered) and return ``continue``, logging that check is
    missing.

``run_session(call, data, call_info)`` without ``deps`` keeps the placeholder
behaviour (answer, ``continue``) for tools that run the listener alone.
"""

from __future__ import annotations

from services.tasks import OwnedTasks

import asyncio
import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Coroutine, Mapping

from services.messages.etf import ActionResult
from services.store import layout
from voicemail_svc.call_control import CallControl
from voicemail_svc.mailbox import CallInfo

log = logging.getLogger(__name__)

CONTINUE = ActionResult("continue")

Action = Callable[..., Awaitable[ActionResult]]


class Background(OwnedTasks):
    """Work that outlives its call (a message saved after the result was sent); every task owned here."""

    def __init__(self) -> None:
        super().__init__("background task")


@dataclass
class Deps:
    """What a voicemail session may use (built in app.py)."""

    bus: Any
    store: Any
    config: Any                       # services.config.ConfigClient (or None: built-in defaults)
    mailboxes: Any                    # mailbox.Mailboxes
    messages: Any                     # messages.Messages
    mwi: Any                          # mwi.Mwi
    notifier: Any                     # notify.Notifier
    uploads: Any                      # upload.UploadServer
    spool: Any                        # spool.Spool
    find_callflow: Callable[[str, str], Awaitable[Mapping[str, Any] | None]]   # (account, number) -> doc
    background: Background = field(default_factory=Background)
    check: Action | None = None       # see the module docstring
    clock: Callable[[], int] = layout.now_gregorian    # "now" of new messages, Gregorian seconds


def default_check() -> Action | None:
    """``voicemail_svc.check.run_check`` when the module exists."""
    try:
        module = importlib.import_module("voicemail_svc.check")
    except ModuleNotFoundError as exc:
        if exc.name == "voicemail_svc.check":
            return None
        raise
    return getattr(module, "run_check", None)


def action_name(data: Mapping[str, Any]) -> str:
    """``data.action``; missing or empty means ``compose``."""
    value = data.get("action")
    return value if isinstance(value, str) and value else "compose"


async def check_missing(call: CallControl) -> ActionResult:
    if not call.hung_up:
        await call.answer()
    log.warning("voicemail check is not available in this installation: answered and continuing")
    return CONTINUE


class Sessions:
    """Runs one action per call with the service's dependencies."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def run(self, call: CallControl, data: Mapping[str, Any], call_info: Mapping[str, Any]) -> ActionResult:
        name = action_name(data)
        info = CallInfo.from_call(call_info)
        if name == "compose":
            from voicemail_svc.compose import run_compose
            return await run_compose(self.deps, call, info, data)
        if name == "check":
            if self.deps.check is None:
                return await check_missing(call)
            return await self.deps.check(self.deps, call, info, data, box=None)
        log.info("unknown voicemail action %r: nothing to do, continuing", name)
        return CONTINUE


async def run_session(call: CallControl, data: Mapping[str, Any], call_info: Mapping[str, Any],
                      deps: Deps | None = None) -> ActionResult:
    """Dispatch one action; without ``deps`` compose and check only answer and continue."""
    if deps is not None:
        return await Sessions(deps).run(call, data, call_info)
    name = action_name(data)
    if name not in ("compose", "check"):
        log.info("unknown voicemail action %r: nothing to do, continuing", name)
        return CONTINUE
    await call.answer()
    log.warning("voicemail %s without its dependencies: answered and continuing", name)
    return CONTINUE
