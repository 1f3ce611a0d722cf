"""One transcript line for a command received and for an event emitted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway_sim import media


def describe_command(command: Mapping[str, Any], insert_at: str) -> str:
    app = command.get("Application-Name") or "(no application)"
    if app == "queue":
        names = [c.get("Application-Name", "?") for c in command.get("Commands") or [] if isinstance(c, Mapping)]
        return f"queue [{', '.join(map(str, names))}] ({insert_at})"
    detail = ""
    if app in ("play", "record", "store", "store_vm", "play_and_collect_digits"):
        detail = " " + media.prompt_id(str(command.get("Media-Name", "")))
    elif app == "tts":
        detail = f" {command.get('Text', '')!r}"
    elif app == "say":
        detail = f" {command.get('Say-Text', '')!r} ({command.get('Type', '')})"
    elif app == "hangup" and command.get("Hangup-Cause"):
        detail = f" {command['Hangup-Cause']}"
    elif app == "sleep":
        detail = f" {command.get('Time', '')} ms"
    elif app == "noop" and command.get("Filter-Applications"):
        detail = " with filter"
    return f"{app}{detail} ({insert_at})"


def describe_event(name: str, body: Mapping[str, Any]) -> str:
    if name == "CHANNEL_EXECUTE_COMPLETE":
        response = body.get("Application-Response")
        return f"{name} {body.get('Application-Name')}" + (f" ({response})" if response else "")
    if name == "DTMF":
        return f"DTMF {body.get('DTMF-Digit')}"
    if name == "RECORD_STOP":
        return f"RECORD_STOP {body.get('Length')} ms"
    if name == "CHANNEL_DESTROY":
        return f"CHANNEL_DESTROY {body.get('Hangup-Cause')}"
    return name
