"""The store's queries, defined once for every backend.

Each view is written twice, side by side: as a JavaScript map function, installed
on CouchDB in the design document ``_design/kzvoice`` (its own name, so it never
replaces one of KAZOO's design documents in a shared cluster), and as a Python
function with the same semantics, which the embedded backends run on every write
to maintain their indexes.  The parameterised backend tests prove the two agree.

The views follow the KAZOO views named in each docstring (same filter on
``pvt_type`` and ``pvt_deleted``, same keys); where KAZOO's JavaScript would do
something accidental with malformed data (iterate over a string's characters,
emit a NaN key) these definitions state a plain rule instead (ours).

JavaScript semantics the Python side reproduces: truthiness (``js_truthy``) and
``parseInt(x, 10)`` (``js_parse_int``), ``for (i in x)`` over arrays and objects.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

DESIGN_NAME = "kzvoice"
DESIGN_ID = f"_design/{DESIGN_NAME}"

Emit = Iterator[tuple[Any, Any]]


@dataclass(frozen=True)
class View:
    name: str
    js: str
    emit: Callable[[dict], Emit]


# --- JavaScript semantics ---------------------------------------------------------------


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness of a JSON value: false, 0, "", null (and NaN) are falsy;
    every object and array, even an empty one, is truthy."""
    if value is None or value is False:
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def _js_string(value: Any) -> str:
    """``String(value)`` for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value).replace("e+0", "e+").replace("e-0", "e-")
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if item is None else _js_string(item) for item in value)
    return "[object Object]"


_LEADING_INT = re.compile(r"[+-]?[0-9]+")
_SAFE_INTEGER = 2**53


def js_parse_int(value: Any) -> int | None:
    """``parseInt(value, 10)`` as an int, or None where JavaScript gives NaN.

    Beyond 2**53 JavaScript keeps a double; the result is rounded the same way so
    huge mailbox numbers compare as they would on CouchDB."""
    match = _LEADING_INT.match(_js_string(value).lstrip())
    if match is None:
        return None
    number = int(match.group(0))
    if abs(number) >= _SAFE_INTEGER:
        number = int(float(number))
    return number


def _js_for_in_values(value: Any) -> Iterable[Any]:
    """The values ``for (var i in x) x[i]`` visits for a JSON array or object."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return value.values()
    return ()


def _live(doc: dict, pvt_type: str | None = None) -> bool:
    if js_truthy(doc.get("pvt_deleted")):
        return False
    return pvt_type is None or doc.get("pvt_type") == pvt_type


def _owners(doc: dict) -> list[str]:
    """Hot-desk users when there are any, else ``owner_id`` (KAZOO ``attributes/owned``)."""
    hotdesk = doc.get("hotdesk")
    users = hotdesk.get("users") if isinstance(hotdesk, dict) else None
    if isinstance(users, dict) and users:
        return list(users)
    owner_id = doc.get("owner_id")
    return [owner_id] if isinstance(owner_id, str) and owner_id else []


# Shared JavaScript helpers, inlined into each map function that needs them (CouchDB
# map functions cannot share code).
_JS_OWNERS = """
  var owners = [];
  var users = doc.hotdesk && doc.hotdesk.users;
  if (users && typeof users === 'object' && !Array.isArray(users)) {
    for (var u in users) if (Object.prototype.hasOwnProperty.call(users, u)) owners.push(u);
  }
  if (owners.length === 0 && typeof doc.owner_id === 'string' && doc.owner_id) owners.push(doc.owner_id);
"""

_JS_FOR_IN_VALUES = """
  function values(x) {
    var out = [];
    if (x && typeof x === 'object') for (var i in x) if (Object.prototype.hasOwnProperty.call(x, i)) out.push(x[i]);
    return out;
  }
"""


# --- the views ---------------------------------------------------------------------------


def _vmbox_mailbox(doc: dict) -> Emit:
    if _live(doc, "vmbox"):
        yield doc.get("mailbox"), None


def _vmbox_mailbox_number(doc: dict) -> Emit:
    if _live(doc, "vmbox"):
        number = js_parse_int(doc.get("mailbox"))
        if number is not None:
            yield number, None


def _owned(doc: dict) -> Emit:
    if _live(doc):
        for owner in _owners(doc):
            yield [owner, doc.get("pvt_type")], None


def _sip_username(doc: dict) -> Emit:
    if not _live(doc):
        return
    owners = _owners(doc)
    sip = doc.get("sip")
    if isinstance(sip, dict) and js_truthy(sip.get("username")) and sip.get("method") == "password":
        yield sip["username"], owners
        return
    servers = doc.get("servers")
    if doc.get("pvt_type") == "sys_info" and isinstance(servers, list):
        for server in servers:
            auth = server.get("auth") if isinstance(server, dict) else None
            if isinstance(auth, dict) and js_truthy(auth.get("auth_user")) and auth.get("auth_method") == "password":
                yield auth["auth_user"], owners


def _message_fields(doc: dict) -> tuple[Any, dict] | None:
    """``(source_id, metadata)`` of a live voicemail message, or None when KAZOO's
    ``mailbox_messages`` views emit nothing for it: not a ``mailbox_message``, soft
    deleted, or without ``metadata`` (KAZOO's map function throws on ``doc.metadata.x``
    then; ours says so).  A ``metadata`` that is no object reads as one without fields,
    as ``doc.metadata.timestamp`` does in JavaScript."""
    if not _live(doc, "mailbox_message") or doc.get("metadata") is None:
        return None
    metadata = doc["metadata"]
    return doc.get("source_id"), metadata if isinstance(metadata, dict) else {}


def _vm_listing(doc: dict) -> Emit:
    fields = _message_fields(doc)
    if fields is not None:
        source_id, metadata = fields
        yield [source_id, metadata.get("timestamp")], None


def _vm_count(doc: dict) -> Emit:
    fields = _message_fields(doc)
    if fields is not None:
        source_id, metadata = fields
        yield [source_id, metadata.get("folder"), metadata.get("timestamp")], None


def _account_realm(doc: dict) -> Emit:
    realm = doc.get("realm")
    if _live(doc, "account") and isinstance(realm, str):
        account_id = doc.get("pvt_account_id")
        yield realm.lower(), {"account_id": account_id if js_truthy(account_id) else doc["_id"]}


def _media_prompt(doc: dict) -> Emit:
    if _live(doc, "media"):
        language = doc.get("language")
        language = language.lower() if isinstance(language, str) and language else None
        prompt_id = doc.get("prompt_id")
        if isinstance(prompt_id, str) and prompt_id:
            yield prompt_id, [language, True]
        else:
            yield doc["_id"], [language, False]


def _callflow_list(name: str, field: str) -> View:
    """Each entry of a callflow's ``numbers`` or ``patterns`` as a key (KAZOO
    ``callflows/listing_by_number`` and ``listing_by_pattern``)."""

    def emit(doc: dict) -> Emit:
        if _live(doc, "callflow"):
            for entry in _js_for_in_values(doc.get(field)):
                yield entry, None

    js = """function (doc) {
  if (doc.pvt_type !== 'callflow' || doc.pvt_deleted) return;
""" + _JS_FOR_IN_VALUES + f"""
  values(doc.{field}).forEach(function (entry) {{ emit(entry, null); }});
}}"""
    return View(name, js, emit)


CALLFLOWS_BY_NUMBER = _callflow_list("callflows_by_number", "numbers")
CALLFLOW_PATTERNS = _callflow_list("callflow_patterns", "patterns")

VMBOXES_BY_MAILBOX = View(
    "vmboxes_by_mailbox",
    """function (doc) {
  if (doc.pvt_type !== 'vmbox' || doc.pvt_deleted) return;
  emit(doc.mailbox === undefined ? null : doc.mailbox, null);
}""",
    _vmbox_mailbox,
)

VMBOXES_BY_MAILBOX_NUMBER = View(
    "vmboxes_by_mailbox_number",
    """function (doc) {
  if (doc.pvt_type !== 'vmbox' || doc.pvt_deleted) return;
  var number = parseInt(doc.mailbox, 10);
  if (!isNaN(number)) emit(number, null);
}""",
    _vmbox_mailbox_number,
)

OWNED = View(
    "owned",
    """function (doc) {
  if (doc.pvt_deleted) return;
""" + _JS_OWNERS + """
  var type = doc.pvt_type === undefined ? null : doc.pvt_type;
  owners.forEach(function (owner) { emit([owner, type], null); });
}""",
    _owned,
)

SIP_USERNAME = View(
    "sip_username",
    """function (doc) {
  if (doc.pvt_deleted) return;
""" + _JS_OWNERS + """
  var sip = doc.sip;
  if (sip && typeof sip === 'object' && !Array.isArray(sip) && sip.username && sip.method === 'password') {
    emit(sip.username, owners);
    return;
  }
  if (doc.pvt_type === 'sys_info' && Array.isArray(doc.servers)) {
    doc.servers.forEach(function (server) {
      var auth = server && typeof server === 'object' && !Array.isArray(server) ? server.auth : null;
      if (auth && typeof auth === 'object' && !Array.isArray(auth) && auth.auth_user && auth.auth_method === 'password')
        emit(auth.auth_user, owners);
    });
  }
}""",
    _sip_username,
)

# KAZOO's mailbox_messages/listing_by_mailbox and count_per_box_folder (kazoo_modb's
# design document): every live mailbox_message with metadata, whatever holds its audio.
_JS_MESSAGE = """
  if (doc.pvt_type !== 'mailbox_message' || doc.pvt_deleted) return;
  if (doc.metadata === undefined || doc.metadata === null) return;
  function field(x) { return x === undefined ? null : x; }
  var metadata = doc.metadata;
"""

VM_LISTING_BY_MAILBOX = View(
    "vm_listing_by_mailbox",
    """function (doc) {""" + _JS_MESSAGE + """
  emit([field(doc.source_id), field(metadata.timestamp)], null);
}""",
    _vm_listing,
)

VM_COUNT_PER_BOX_FOLDER = View(
    "vm_count_per_box_folder",
    """function (doc) {""" + _JS_MESSAGE + """
  emit([field(doc.source_id), field(metadata.folder), field(metadata.timestamp)], null);
}""",
    _vm_count,
)

ACCOUNTS_BY_REALM = View(
    "accounts_by_realm",
    """function (doc) {
  if (doc.pvt_type !== 'account' || doc.pvt_deleted || typeof doc.realm !== 'string') return;
  emit(doc.realm.toLowerCase(), {account_id: doc.pvt_account_id || doc._id});
}""",
    _account_realm,
)

MEDIA_BY_PROMPT = View(
    "media_by_prompt",
    """function (doc) {
  if (doc.pvt_type !== 'media' || doc.pvt_deleted) return;
  var language = typeof doc.language === 'string' && doc.language ? doc.language.toLowerCase() : null;
  if (typeof doc.prompt_id === 'string' && doc.prompt_id) emit(doc.prompt_id, [language, true]);
  else emit(doc._id, [language, false]);
}""",
    _media_prompt,
)

ALL_VIEWS: tuple[View, ...] = (
    CALLFLOWS_BY_NUMBER,
    CALLFLOW_PATTERNS,
    VMBOXES_BY_MAILBOX,
    VMBOXES_BY_MAILBOX_NUMBER,
    OWNED,
    SIP_USERNAME,
    VM_LISTING_BY_MAILBOX,
    VM_COUNT_PER_BOX_FOLDER,
    ACCOUNTS_BY_REALM,
    MEDIA_BY_PROMPT,
)


INDEX_REVISION = 1
"""Bump when a Python emit function changes without its JavaScript twin changing."""


def _fingerprint() -> str:
    digest = hashlib.sha256(str(INDEX_REVISION).encode())
    for view in ALL_VIEWS:
        digest.update(b"\0" + view.name.encode() + b"\0" + view.js.encode())
    return digest.hexdigest()[:16]


VERSION = _fingerprint()
"""Changes whenever a view changes: the CouchDB design document and the SQLite index
carry it and are rebuilt when it differs."""


def design_doc() -> dict:
    """The CouchDB design document holding every view."""
    return {
        "_id": DESIGN_ID,
        "language": "javascript",
        "kzvoice_views_version": VERSION,
        "views": {view.name: {"map": view.js} for view in ALL_VIEWS},
    }


def key_json(key: Any) -> str:
    """A view key as canonical JSON, the form the embedded backends compare."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class KeyPrefix:
    """Every row whose key is an array starting with ``items`` (and longer than it): CouchDB's
    ``startkey=[items…]`` / ``endkey=[items…, {}]``."""

    items: tuple[Any, ...]

    def text(self) -> str:
        """What the canonical JSON of each such key starts with (``["box",``)."""
        return key_json(list(self.items))[:-1] + ","

    def text_range(self) -> tuple[str, str]:
        """``(low, high)``: the canonical keys with this prefix are exactly those with
        ``low <= key < high`` in code-point (and UTF-8 byte) order."""
        low = self.text()
        return low, low[:-1] + chr(ord(low[-1]) + 1)


def rows_for(doc: dict) -> list[tuple[str, str, Any]]:
    """``(view name, key JSON, value)`` for every row ``doc`` (with its ``_id``) emits.

    A view whose function fails on odd data emits nothing for that document, as a
    CouchDB map function that throws does."""
    rows: list[tuple[str, str, Any]] = []
    for view in ALL_VIEWS:
        try:
            emitted = [(key_json(key), value) for key, value in view.emit(doc)]
        except (TypeError, ValueError, AttributeError):
            continue
        rows.extend((view.name, key, value) for key, value in emitted)
    return rows
