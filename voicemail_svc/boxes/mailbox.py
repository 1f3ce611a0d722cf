"""Boxes (vmbox documents), the call as the voicemail module sees it, and box resolution.

Shared by ``compose`` and ``check``; the API below is stable.

``CallInfo.from_call(call_object)``
    The serialized call of ``action.execute`` (bus.md 3.8.6) as typed fields:
    ``call_id``, ``account_id``, ``owner_id`` (``Owner-ID``, else the
    ``owner_id`` of the Key-Value-Store), ``authorizing_id``,
    ``caller_id_number`` / ``caller_id_name`` (with the ``prepend_cid_*``
    prefixes of voicemail.md 3.1 applied, cut to 35 characters), ``from_user``
    / ``from_realm`` / ``to_user`` / ``to_realm``, ``request_user``,
    ``capture_group`` (``cf_capture_group``), ``language``.

``Mailbox``
    One box document plus its effective owner (voicemail.md 2.3): ``id``,
    ``number`` (``mailbox``), ``owner_id`` (only when the user document
    exists), ``owner`` (that user document), ``flag(name)`` (KAZOO ``is_true``),
    ``media(name)``, ``is_owned_by(owner_id)``.

``Mailboxes(store, config=None)``
    Reads and writes boxes of an account:

    * ``get(account_id, box_id)``: by id, without a type check (voicemail.md 1,
      ``id``); ``None`` when missing;
    * ``by_mailbox(account_id, text)``: exact string match, first by id (5.1
      step 2, capture groups);
    * ``by_number(account_id, digits)``: numeric match (``parseInt``), only
      when exactly one box matches (5.2 typed numbers; non-numeric -> 0);
    * ``owned_by(account_id, owner_id)``: the boxes of a user (hot-desk
      included);
    * ``resolve(call, data)``: box resolution of 5.1, shared by compose and
      check (``None`` = not found);
    * ``timezone(box)``: the chain of 2.2;
    * ``update(box, changes)``: write changed fields (``None`` removes a
      field) with conflict retry; returns the new ``Mailbox``;
    * ``user``, ``device``, ``account``, ``realm``: the other documents the
      module reads.

``with_defaults(doc)`` / ``box_problem(doc)``
    Saving a box from the phone (voicemail.md 2.4, 5.9.1, 5.10 key 6): the
    ``vmboxes.json`` defaults a saved box gets, and the first schema
    constraint it breaks (``None`` when valid).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

from services.store import layout
from services.store.interface import Conflict, NotFound

log = logging.getLogger(__name__)

CALLER_ID_MAX = 35                       # mailbox_message.json caller_id_* maxLength
DEFAULT_TIMEZONE = "America/Los_Angeles"  # accounts.default_timezone


def is_true(value: Any) -> bool:
    """KAZOO ``kz_term:is_true``: JSON true or the string "true"."""
    return value is True or value == "true"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _split(address: str) -> tuple[str, str]:
    user, _, realm = address.partition("@")
    return user, realm


# ---- the call ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CallInfo:
    """The parts of ``action.execute``'s ``Call`` the voicemail module uses."""

    call_id: str
    account_id: str
    account_db: str = ""
    owner_id: str = ""
    authorizing_id: str = ""
    authorizing_type: str = ""
    caller_id_number: str = ""
    caller_id_name: str = ""
    from_user: str = ""
    from_realm: str = ""
    to_user: str = ""
    to_realm: str = ""
    request_user: str = ""
    request_realm: str = ""
    capture_group: str = ""
    language: str = "en-us"
    switch_node: str = ""
    kvs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_call(cls, call: Mapping[str, Any]) -> "CallInfo":
        kvs = call.get("Key-Value-Store")
        kvs = kvs if isinstance(kvs, Mapping) else {}
        account_id = _text(call.get("Account-ID"))
        from_user, from_realm = _split(_text(call.get("From")))
        to_user, to_realm = _split(_text(call.get("To")))
        request_user, request_realm = _split(_text(call.get("Request")))
        cid_number = _text(kvs.get("prepend_cid_number")) + _text(call.get("Caller-ID-Number"))
        cid_name = _text(kvs.get("prepend_cid_name")) + _text(call.get("Caller-ID-Name"))
        account_db = _text(call.get("Account-DB"))
        if not account_db and account_id:
            try:
                account_db = layout.account_db(account_id, encoded=True)
            except layout.InvalidName:
                account_db = ""
        return cls(
            call_id=_text(call.get("Call-ID")),
            account_id=account_id,
            account_db=account_db,
            owner_id=_text(call.get("Owner-ID")) or _text(kvs.get("owner_id")),
            authorizing_id=_text(call.get("Authorizing-ID")),
            authorizing_type=_text(call.get("Authorizing-Type")),
            caller_id_number=cid_number[:CALLER_ID_MAX],
            caller_id_name=cid_name[:CALLER_ID_MAX],
            from_user=_text(call.get("From-User")) or from_user,
            from_realm=_text(call.get("From-Realm")) or from_realm,
            to_user=_text(call.get("To-User")) or to_user,
            to_realm=_text(call.get("To-Realm")) or to_realm,
            request_user=_text(call.get("Request-User")) or request_user,
            request_realm=_text(call.get("Request-Realm")) or request_realm,
            capture_group=_text(kvs.get("cf_capture_group")),
            language=(_text(call.get("Language")) or "en-us").lower(),
            switch_node=_text(call.get("Switch-Nodename")),
            kvs=dict(kvs),
        )

    @property
    def from_(self) -> str:
        return f"{self.from_user}@{self.from_realm}"

    @property
    def to(self) -> str:
        return f"{self.to_user}@{self.to_realm}"


# ---- one box ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Mailbox:
    """A vmbox document with its effective owner (voicemail.md 2.3)."""

    doc: Mapping[str, Any]
    account_id: str
    owner: Mapping[str, Any] | None = None     # the owner's user document, when it exists

    @property
    def id(self) -> str:
        return self.doc["_id"]

    @property
    def number(self) -> str:
        """The box number (``mailbox``); ``""`` when absent (callers fall back to the request user)."""
        value = self.doc.get("mailbox")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(int(value))
        return _text(value)

    @property
    def owner_id(self) -> str:
        """The effective owner: ``owner_id`` only when that user document exists."""
        return self.owner["_id"] if self.owner is not None else ""

    def is_owned_by(self, owner_id: str) -> bool:
        """Owner match (voicemail.md 0.1): a non-empty call owner equal to the effective owner."""
        return bool(owner_id) and owner_id == self.owner_id

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean field read with ``is_true``; ``default`` when absent."""
        if name not in self.doc or self.doc[name] is None:
            return default
        return is_true(self.doc[name])

    def has(self, name: str) -> bool:
        return self.doc.get(name) is not None

    def media(self, name: str) -> str:
        """``media.<name>`` (a media document id) or ``""``."""
        media = self.doc.get("media")
        return _text(media.get(name)) if isinstance(media, Mapping) else ""

    def with_doc(self, doc: Mapping[str, Any]) -> "Mailbox":
        return Mailbox(doc, self.account_id, self.owner)


# ---- the boxes of an account -------------------------------------------------------------

class Mailboxes:
    """Box reads and writes; ``config`` (a ConfigClient) is needed only for ``timezone``."""

    def __init__(self, store, config=None) -> None:
        self._store = store
        self._config = config

    @property
    def store(self):
        return self._store

    # -- documents ---------------------------------------------------------------------------

    async def _doc(self, account_id: str, doc_id: str) -> dict | None:
        if not account_id or not doc_id:
            return None
        try:
            return await self._store.get(layout.account_db(account_id), doc_id)
        except NotFound:
            return None
        except layout.InvalidName:
            return None

    async def user(self, account_id: str, user_id: str) -> dict | None:
        doc = await self._doc(account_id, user_id)
        return doc if doc is not None and doc.get("pvt_type", "user") == "user" else None

    async def device(self, account_id: str, device_id: str) -> dict | None:
        return await self._doc(account_id, device_id)

    async def account(self, account_id: str) -> dict | None:
        return await self._doc(account_id, account_id)

    async def realm(self, account_id: str) -> str:
        doc = await self.account(account_id)
        return _text(doc.get("realm")) if doc else ""

    async def _wrap(self, account_id: str, doc: dict | None) -> Mailbox | None:
        if doc is None:
            return None
        owner = None
        owner_id = _text(doc.get("owner_id"))
        if owner_id:
            owner = await self.user(account_id, owner_id)
        return Mailbox(doc, account_id, owner)

    # -- lookups -----------------------------------------------------------------------------

    async def get(self, account_id: str, box_id: str) -> Mailbox | None:
        """The document ``box_id`` read directly, without a type check (voicemail.md 1)."""
        return await self._wrap(account_id, await self._doc(account_id, box_id))

    async def by_mailbox(self, account_id: str, mailbox: str) -> Mailbox | None:
        """The first box (by id) whose ``mailbox`` is exactly ``mailbox``."""
        boxes = await self._store.vmboxes_by_mailbox(layout.account_db(account_id), mailbox)
        return await self._wrap(account_id, boxes[0] if boxes else None)

    async def by_number(self, account_id: str, digits: str) -> Mailbox | None:
        """The box whose ``mailbox`` is numerically ``digits`` when exactly one is (5.2).

        Digits that are not a number count as 0, as in KAZOO.
        """
        try:
            number = int(digits)
        except (TypeError, ValueError):
            number = 0
        boxes = await self._store.vmboxes_by_mailbox_number(layout.account_db(account_id), number)
        if len(boxes) != 1:
            return None
        return await self._wrap(account_id, boxes[0])

    async def owned_by(self, account_id: str, owner_id: str) -> list[Mailbox]:
        docs = await self._store.vmboxes_by_owner(layout.account_db(account_id), owner_id)
        owner = await self.user(account_id, owner_id)
        return [Mailbox(doc, account_id, owner if _text(doc.get("owner_id")) == owner_id else
                        await self._owner_of(account_id, doc)) for doc in docs]

    async def _owner_of(self, account_id: str, doc: Mapping[str, Any]) -> dict | None:
        owner_id = _text(doc.get("owner_id"))
        return await self.user(account_id, owner_id) if owner_id else None

    async def resolve(self, call: CallInfo, data: Mapping[str, Any]) -> Mailbox | None:
        """Box resolution of voicemail.md 5.1: explicit id, then capture group, then owner.

        The first applicable step decides; a failing step does not fall through.
        """
        account_id = call.account_id
        box_id = _text(data.get("id"))
        if box_id:
            return await self.get(account_id, box_id)
        if call.capture_group:
            return await self.by_mailbox(account_id, call.capture_group)
        owner_id = call.owner_id
        if not owner_id and call.authorizing_id:
            device = await self.device(account_id, call.authorizing_id)
            owner_id = _text(device.get("owner_id")) if device else ""
        if not owner_id:
            return None
        boxes = await self.owned_by(account_id, owner_id)
        if not boxes:
            return None
        if len(boxes) == 1 and is_true(data.get("single_mailbox_login")):
            return boxes[0]
        if is_true(data.get("callerid_match_login")):
            for box in boxes:
                if box.number and box.number == call.caller_id_number:
                    return box
        return None

    # -- timezone (2.2) ----------------------------------------------------------------------

    async def timezone(self, box: Mailbox | None) -> str:
        """Box, owner, account then each parent account, then ``accounts.default_timezone``."""
        candidates: list[Any] = []
        if box is not None:
            candidates.append(box.doc.get("timezone"))
            if box.owner is not None:
                candidates.append(box.owner.get("timezone"))
        for value in candidates:
            if isinstance(value, str) and value and value != "inherit":
                return value
        account_id = box.account_id if box is not None else ""
        seen: set[str] = set()
        while account_id and account_id not in seen:
            seen.add(account_id)
            doc = await self.account(account_id)
            if doc is None:
                break
            value = doc.get("timezone")
            if isinstance(value, str) and value and value != "inherit":
                return value
            tree = doc.get("pvt_tree")
            account_id = tree[-1] if isinstance(tree, list) and tree and isinstance(tree[-1], str) else ""
        if self._config is not None:
            value = await self._config.get_ne_binary("accounts", "default_timezone", DEFAULT_TIMEZONE)
            if isinstance(value, str) and value:
                return value
        return DEFAULT_TIMEZONE

    # -- writes ------------------------------------------------------------------------------

    async def update(self, box: Mailbox, changes: Mapping[str, Any], *, tries: int = 3) -> Mailbox:
        """Apply ``changes`` to the stored box (``None`` removes a field); retried on conflict."""
        db = layout.account_db(box.account_id)
        doc = dict(box.doc)
        for attempt in range(tries):
            for key, value in changes.items():
                if value is None:
                    doc.pop(key, None)
                else:
                    doc[key] = value
            layout.touch(doc)
            try:
                saved = await self._store.put(db, doc)
                return box.with_doc(saved)
            except Conflict:
                if attempt == tries - 1:
                    raise
                doc = await self._store.get(db, box.id)
        raise AssertionError("unreachable")


# ---- a box saved from the phone (voicemail.md 2.4, 5.9.1, 5.10 key 6) ---------------------------
#
# KAZOO validates the whole document against ``vmboxes.json`` and fills the schema defaults:
# ``box_problem(doc)`` checks the constraints a box can break (required ``mailbox`` and ``name``,
# lengths, enums, types of the known fields); ``with_defaults(doc)`` adds the missing defaults.

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
