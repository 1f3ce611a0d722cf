"""Predicates on call events that several actions wait for (bus.md 4.2, 4.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # services.messages.spec imported first would start a circular import
    from services.messages.spec import Message


def is_hangup(message: Message) -> bool:
    return message.spec.category == "call_event" and message.spec.name in ("CHANNEL_DESTROY",
                                                                           "CHANNEL_DISCONNECTED")


def completes(message: Message, application: str, response: str | None = None) -> bool:
    """``CHANNEL_EXECUTE_COMPLETE`` of ``application`` (with ``Application-Response`` when given)."""
    if message.spec.category != "call_event" or message.spec.name != "CHANNEL_EXECUTE_COMPLETE":
        return False
    if message.get("Application-Name") != application:
        return False
    return response is None or message.get("Application-Response") == response


def failed(message: Message, application: str) -> bool:
    """A dialplan error for ``application`` (bus.md 3.6)."""
    if message.spec.category != "error" or message.spec.name != "dialplan":
        return False
    request = message.get("Request")
    return isinstance(request, dict) and request.get("Application-Name") == application
