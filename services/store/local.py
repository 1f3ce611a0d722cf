"""CouchDB's document-update rules for the embedded backends (memory and SQLite).

Both embedded backends hold, per document, its current revision, a deleted flag
(deleted documents stay as tombstones so revision numbers continue as in CouchDB),
the body and attachment metadata.  The functions here decide what a write does;
the backends only read the current state and store the resulting :class:`Write`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from . import views
from .interface import BadRequest, BulkResult, Conflict, NotFound

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class AttachmentMeta:
    content_type: str
    length: int
    digest: str  # "md5-<base64>", as CouchDB writes it
    revpos: int

    def stub(self) -> dict:
        return {
            "content_type": self.content_type,
            "digest": self.digest,
            "length": self.length,
            "revpos": self.revpos,
            "stub": True,
        }

    def to_json(self) -> dict:
        return {"content_type": self.content_type, "length": self.length, "digest": self.digest,
                "revpos": self.revpos}

    @classmethod
    def from_json(cls, data: dict) -> "AttachmentMeta":
        return cls(data["content_type"], data["length"], data["digest"], data["revpos"])

    @classmethod
    def of(cls, data: bytes, content_type: str, revpos: int) -> "AttachmentMeta":
        return cls(content_type, len(data), digest(data), revpos)


@dataclass(frozen=True)
class Current:
    """What a backend holds for a document id before a write."""

    rev: str
    deleted: bool
    body: dict | None
    attachments: dict[str, AttachmentMeta]


@dataclass
class Write:
    """The state a backend stores after a write."""

    doc_id: str
    rev: str
    deleted: bool
    body: dict | None  # without _id, _rev, _attachments
    attachments: dict[str, AttachmentMeta]  # the complete set after the write
    new_data: dict[str, bytes] = field(default_factory=dict)  # bytes of attachments this write adds
    rows: list[tuple[str, str, Any]] = field(default_factory=list)  # index rows (none when deleted)


def digest(data: bytes) -> str:
    return "md5-" + base64.b64encode(hashlib.md5(data).digest()).decode()


def dumps(value: Any) -> str:
    """JSON for storage; NaN and Infinity are refused as CouchDB refuses them."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"not storable as JSON: {exc}") from None


def render(doc_id: str, rev: str, body: dict, attachments: dict[str, AttachmentMeta]) -> dict:
    """A document as ``get`` returns it."""
    doc = {"_id": doc_id, "_rev": rev, **body}
    if attachments:
        doc["_attachments"] = {name: attachments[name].stub() for name in sorted(attachments)}
    return doc


def _check_rev(doc_id: str, given: str | None, current: Current | None) -> int:
    """The generation of the new revision, or :class:`Conflict`."""
    if current is None:
        if given is not None:
            raise Conflict(f"{doc_id}: document does not exist, but a _rev was given")
        return 1
    if current.deleted:
        if given is not None and given != current.rev:
            raise Conflict(f"{doc_id}: _rev {given} is not the current revision")
    elif given != current.rev:
        raise Conflict(f"{doc_id}: _rev {given} is not the current revision {current.rev}")
    return int(current.rev.split("-", 1)[0]) + 1


def _new_rev(generation: int, previous: str | None, deleted: bool, body_json: str,
             attachments: dict[str, AttachmentMeta]) -> str:
    seed = dumps([previous, deleted, body_json, sorted((n, m.digest) for n, m in attachments.items())])
    return f"{generation}-{hashlib.md5(seed.encode()).hexdigest()}"


def _live_attachments(current: Current | None) -> dict[str, AttachmentMeta]:
    return {} if current is None or current.deleted else current.attachments


def plan_put(doc: dict, current: Current | None) -> Write:
    """What writing ``doc`` over ``current`` stores (CouchDB ``PUT /db/doc`` rules)."""
    doc_id = doc["_id"]
    generation = _check_rev(doc_id, doc.get("_rev"), current)
    if doc.get("_deleted") is True:
        return _tombstone(doc_id, generation, current)
    body = {k: v for k, v in doc.items() if k not in ("_id", "_rev", "_attachments", "_deleted")}
    body_json = dumps(body)
    existing = _live_attachments(current)
    attachments: dict[str, AttachmentMeta] = {}
    new_data: dict[str, bytes] = {}
    given = doc.get("_attachments")
    if given is not None and not isinstance(given, dict):
        raise BadRequest(f"{doc_id}: _attachments must be an object")
    for name, spec in (given or {}).items():
        if not isinstance(spec, dict):
            raise BadRequest(f"{doc_id}: attachment {name!r} must be an object")
        if "data" in spec:
            data = spec["data"]
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            elif not isinstance(data, bytes):       # base64 text, as in a CouchDB PUT
                try:
                    data = base64.b64decode(data, validate=True)
                except (binascii.Error, TypeError, ValueError):
                    raise BadRequest(f"{doc_id}: attachment {name!r} is not valid base64") from None
            attachments[name] = AttachmentMeta.of(data, spec.get("content_type") or DEFAULT_CONTENT_TYPE, generation)
            new_data[name] = data
        elif spec.get("stub") is True and name in existing:
            attachments[name] = existing[name]
        elif spec.get("stub") is True:
            raise BadRequest(f"{doc_id}: stub for attachment {name!r}, which the document does not have")
        else:
            raise BadRequest(f"{doc_id}: attachment {name!r} needs data or stub")
    rev = _new_rev(generation, current.rev if current else None, False, body_json, attachments)
    stored = json.loads(body_json)  # the caller's objects are never kept
    return Write(doc_id, rev, False, stored, attachments, new_data, views.rows_for({**stored, "_id": doc_id}))


def plan_bulk_entry(doc: dict, current: Current | None) -> tuple[Write | None, BulkResult]:
    """One document of a bulk write: its write (None when refused) and its result."""
    try:
        write = plan_put(doc, current)
    except Conflict as exc:
        return None, BulkResult(doc["_id"], False, error="conflict", reason=str(exc))
    except BadRequest as exc:
        return None, BulkResult(doc["_id"], False, error="bad_request", reason=str(exc))
    return write, BulkResult(doc["_id"], True, rev=write.rev)


def _tombstone(doc_id: str, generation: int, current: Current | None) -> Write:
    rev = _new_rev(generation, current.rev if current else None, True, "{}", {})
    return Write(doc_id, rev, True, None, {})


def plan_delete(doc_id: str, rev: str, current: Current | None) -> Write:
    """Deleting (CouchDB ``DELETE /db/doc?rev=``).  A deleted document's tombstone is a
    revision like any other: deleting it again with that revision succeeds."""
    if current is None:
        raise NotFound(f"{doc_id}: no such document")
    return _tombstone(doc_id, _check_rev(doc_id, rev, current), current)


def plan_attachment(doc_id: str, name: str, data: bytes, content_type: str, rev: str | None,
                    current: Current | None) -> Write:
    """Adding or replacing one attachment (CouchDB ``PUT /db/doc/att``); creates the
    document when it does not exist and no ``rev`` is given."""
    generation = _check_rev(doc_id, rev, current)
    body = {} if current is None or current.deleted or current.body is None else current.body
    attachments = {**_live_attachments(current), name: AttachmentMeta.of(data, content_type, generation)}
    body_json = dumps(body)
    new_rev = _new_rev(generation, current.rev if current else None, False, body_json, attachments)
    indexed = {**body, "_id": doc_id}
    return Write(doc_id, new_rev, False, body, attachments, {name: data}, views.rows_for(indexed))
