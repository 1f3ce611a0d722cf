"""Saving a box from the phone: KAZOO validates the whole document against ``vmboxes.json``
and fills the schema defaults (voicemail.md 2.4, 5.9.1, 5.10 key 6).

``box_problem(doc)`` checks the constraints of ``vmboxes.json`` that a box can
break (required ``mailbox`` and ``name``, lengths, enums, types of the known
fields); ``with_defaults(doc)`` adds the schema defaults that are missing.
"""

from __future__ import annotations

from typing import Any, Mapping

DEFAULTS: Mapping[str, Any] = {
    "check_if_owner": True, "require_pin": False, "is_setup": False, "skip_greeting": False,
    "skip_instructions": False, "skip_envelope": False, "media": {}, "media_extension": "mp3",
    "not_configurable": False, "delete_after_notify": False, "save_after_notify": False,
    "oldest_message_first": False, "announcement_only": False, "seek_duration_ms": 10000,
    "transcribe": False, "notify_email_addresses": [], "include_message_on_notify": True,
    "include_transcription_on_notify": True, "is_voicemail_ff_rw_enabled": False,
}

_BOOLEANS = tuple(name for name, value in DEFAULTS.items() if isinstance(value, bool))
_LENGTHS = {"mailbox": (1, 30), "name": (1, 128), "pin": (4, 6), "owner_id": (32, 32), "timezone": (5, 32)}


def with_defaults(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for name, value in DEFAULTS.items():
        if name not in out:
            out[name] = value.copy() if isinstance(value, (dict, list)) else value
    return out


def box_problem(doc: Mapping[str, Any]) -> str | None:
    """The first ``vmboxes.json`` violation of ``doc``, or None."""
    for name in ("mailbox", "name"):
        if name not in doc:
            return f"{name} is required"
    for name, (low, high) in _LENGTHS.items():
        if name in doc:
            value = doc[name]
            if not isinstance(value, str):
                return f"{name} must be a string"
            if not low <= len(value) <= high:
                return f"{name} must have {low} to {high} characters"
    for name in _BOOLEANS:
        if name in doc and not isinstance(doc[name], bool):
            return f"{name} must be a boolean"
    media = doc.get("media", {})
    if not isinstance(media, Mapping):
        return "media must be an object"
    unavailable = media.get("unavailable")
    if unavailable is not None and (not isinstance(unavailable, str) or len(unavailable) != 32):
        return "media.unavailable must be a 32-character id"
    if "media_extension" in doc and doc["media_extension"] not in ("mp3", "mp4", "wav"):
        return "media_extension must be mp3, mp4 or wav"
    seek = doc.get("seek_duration_ms", 0)
    if isinstance(seek, bool) or not isinstance(seek, int) or seek < 0:
        return "seek_duration_ms must be an integer >= 0"
    if "notify_email_addresses" in doc and not isinstance(doc["notify_email_addresses"], list):
        return "notify_email_addresses must be an array"
    operator = doc.get("operator_number")
    if operator is not None and (isinstance(operator, bool) or not isinstance(operator, (int, str))):
        return "operator_number must be an integer or a string"
    return None
