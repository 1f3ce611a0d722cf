"""KAZOO's exchanges and routing keys (bus.md section 1).

Every routing key in kzvoice is built here, and word encoding (section 1.4)
happens here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Exchange:
    """An exchange as KAZOO declares it: non-durable, not auto-deleted, not internal."""

    name: str
    type: str
    durable: bool = False
    auto_delete: bool = False
    internal: bool = False


CALLMGR = Exchange("callmgr", "topic")
TARGETED = Exchange("targeted", "direct")
CALLCTL = Exchange("callctl", "direct")
CALLEVT = Exchange("callevt", "topic")
KAPPS = Exchange("kapps", "topic")
PRESENCE = Exchange("presence", "topic")
SYSCONF = Exchange("sysconf", "topic")
CONFIGURATION = Exchange("configuration", "topic")
SWITCH = Exchange("switch", "topic")
NOTIFICATIONS = Exchange("notifications", "topic")

EXCHANGES: Mapping[str, Exchange] = {
    x.name: x
    for x in (CALLMGR, TARGETED, CALLCTL, CALLEVT, KAPPS, PRESENCE, SYSCONF, CONFIGURATION, SWITCH, NOTIFICATIONS)
}

# KAZOO's queue arguments (bus.md 1.3): bounded backlog, one-minute TTL.
# aio-pika encodes these integers in the smallest AMQP type (byte, unsigned
# short) where KAZOO sends short and signed int; RabbitMQ 3.10 treats integer
# argument types as equivalent (re-declaring KAZOO's queue with ours succeeds,
# checked on this project's test broker), so the values are what matter.
KAZOO_QUEUE_ARGS: Mapping[str, int] = {"x-max-length": 100, "x-message-ttl": 60000}

_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-~_")


def encode_word(word: str) -> str:
    """Encode one variable routing-key word the way KAZOO does (bus.md 1.4)."""
    if word in ("*", "#"):
        return word
    out = []
    for byte in word.encode("utf-8"):
        if byte in _KEEP:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def split_address(address: str) -> tuple[str, str | None]:
    """Apply the ``pid://`` rule (bus.md 1.5).

    Returns ``(routing_key, deliver_to_pid)``; the second is ``None`` for a
    plain queue name.
    """
    if address.startswith("pid://"):
        rest = address[len("pid://"):]
        pid, sep, queue = rest.rpartition("/")
        if sep:
            return queue, pid
        return rest, None
    return address, None


def split_user_realm(address: str) -> tuple[str, str]:
    """``user@realm`` split at the first ``@``; a missing realm is empty."""
    user, _, realm = address.partition("@")
    return user, realm


# ---- routing-key builders, one per message family ------------------------

def route_req_key(resource_type: str, *, account_id: str | None = None,
                  realm: str | None = None, user: str | None = None) -> str:
    if account_id:
        return f"route.req.{encode_word(resource_type)}.{encode_word(account_id)}"
    return f"route.req.{encode_word(resource_type)}.{encode_word(realm or '')}.{encode_word(user or '')}"


def call_event_key(event_name: str, call_id: str) -> str:
    return f"call.{event_name}.{encode_word(call_id)}"


def call_events_binding(call_id: str, event_name: str = "*") -> str:
    """Binding for one call's events: ``call.*.<encoded Call-ID>``."""
    return f"call.{event_name}.{encode_word(call_id)}"


def callflow_action_key(module: str) -> str:
    return f"callflow.action.{module}"


CALLFLOW_RESUME_KEY = "callflow.resume"


def mwi_update_key(to: str) -> str:
    user, realm = split_user_realm(to)
    return f"mwi_updates.{encode_word(realm)}.{encode_word(user)}"


def mwi_unsolicited_key(realm: str) -> str:
    return f"mwi_unsolicited_updates.{encode_word(realm)}"


def mwi_query_key(realm: str) -> str:
    return f"mwi_queries.{encode_word(realm)}"


SYSCONF_GET_KEY = "sysconf.get"
SYSCONF_SET_KEY = "sysconf.set"
SYSCONF_FLUSH_KEY = "sysconf.flush"


def doc_update_key(action: str, database: str, doc_type: str, doc_id: str) -> str:
    """``doc_<action>.<db>.<type>.<encoded id>``; the database is not re-encoded (bus.md 3.11)."""
    return f"doc_{action}.{database}.{doc_type}.{encode_word(doc_id)}"


def doc_binding(database: str = "*", doc_type: str = "*", doc_id: str = "*", action: str = "*") -> str:
    """Binding on ``configuration``; KAZOO turns an all-wildcard one into ``#``."""
    parts = (action if action == "*" else f"doc_{action}", database, doc_type,
             doc_id if doc_id == "*" else encode_word(doc_id))
    if all(p == "*" for p in parts):
        return "#"
    return ".".join(parts)


def doc_type_update_key(doc_type: str) -> str:
    """``configuration.doc_type_update.<type>``; KAZOO appends the type without encoding it."""
    return f"configuration.doc_type_update.{doc_type}"


def db_update_key(action: str, database: str) -> str:
    return f"db_{action}.{database}.database.{database}"


def switch_command_key(media_node: str | None) -> str:
    return f"switch.command.{encode_word(media_node) if media_node else '*'}"


def notification_key(event: str) -> str:
    """``voicemail_new`` -> ``notifications.voicemail.new``."""
    family, _, what = event.partition("_")
    return f"notifications.{family}.{what}"


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` is zero or more words."""
    return _match(pattern.split("."), key.split("."))


def _match(pat: list[str], words: list[str]) -> bool:
    if not pat:
        return not words
    head = pat[0]
    if head == "#":
        rest = pat[1:]
        if not rest:
            return True
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    if head == "*" or head == words[0]:
        return _match(pat[1:], words[1:])
    return False
