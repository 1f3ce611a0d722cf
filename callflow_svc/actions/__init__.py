"""The actions callflow_svc runs itself (callflow.md 3.7), one module each, and the remote action (3.5).

Every action is ``async def run(ctx: ActionContext) -> Outcome``.
"""

from __future__ import annotations

from typing import Mapping

from callflow_svc.actions import answer, callflow, hangup, play, remote, sleep

LOCAL_ACTIONS: Mapping[str, object] = {
    "answer": answer.run,
    "callflow": callflow.run,
    "hangup": hangup.run,
    "play": play.run,
    "sleep": sleep.run,
}

REMOTE_ACTION = remote.run

# Modules always run remotely: callflow_svc has no voicemail of its own (callflow.md 3.4 step 3).
DEFAULT_REMOTE_MODULES = frozenset({"voicemail"})
