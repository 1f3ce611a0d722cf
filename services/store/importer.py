"""Load a KAZOO database dump into the store (``kzvoice import DIR``).

The layout is KAZOO's fixture layout: ``dbs/<URL-encoded db name>/docs/<doc id>.json``
(e.g. ``dbs/account%2Fac%2Fco%2Funt…/docs/%2B14155550100.json``).  For each document:

* the file's ``_rev`` is ignored; a document already in the store is updated on top
  of its current revision, or left alone when it is already equal (so importing
  twice changes nothing);
* inline attachments (``_attachments.<name>.data``, base64) are stored as real
  attachments; a stub without data (the dump left the bytes out) is kept only if
  the stored document already has that attachment, otherwise it is skipped and
  counted;
* a file that is not a JSON object with a usable id, or whose attachment data is not
  base64, is reported by path and nothing from it is written; the import goes on.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from . import layout
from .interface import BadRequest, BulkResult, Store, StoreError
from .local import digest as attachment_digest

log = logging.getLogger(__name__)

BATCH = 100


@dataclass
class DbReport:
    db: str
    written: int = 0
    unchanged: int = 0
    attachments: int = 0
    skipped_stubs: int = 0
    errors: int = 0

    @property
    def documents(self) -> int:
        return self.written + self.unchanged

    def line(self) -> str:
        text = (f"{self.db}: {self.documents} documents ({self.written} written, {self.unchanged} unchanged), "
                f"{self.attachments} attachments")
        if self.skipped_stubs:
            text += f", {self.skipped_stubs} attachment stubs without data skipped"
        return text + f", {self.errors} errors"


@dataclass
class ImportReport:
    databases: list[DbReport] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, message)

    def total(self, name: str) -> int:
        return sum(getattr(db, name) for db in self.databases)

    def summary(self) -> str:
        text = (f"imported {len(self.databases)} databases: {self.total('documents')} documents "
                f"({self.total('written')} written, {self.total('unchanged')} unchanged), "
                f"{self.total('attachments')} attachments")
        if self.total("skipped_stubs"):
            text += f", {self.total('skipped_stubs')} attachment stubs without data skipped"
        return text + f", {len(self.errors)} errors"


class _FileError(Exception):
    pass


def dbs_folder(root: Path) -> Path:
    """``root/dbs`` when it exists, else ``root`` itself (given the ``dbs`` folder)."""
    return root / "dbs" if (root / "dbs").is_dir() else root


async def import_tree(store: Store, root: Path, *, progress: Callable[[str], None] = print,
                      error: Callable[[str], None] = print) -> ImportReport:
    """Import every database under ``root`` (the folder holding ``dbs/``)."""
    report = ImportReport()
    folder = dbs_folder(root)
    for db_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            db = layout.normalize_db_name(unquote(db_dir.name))
        except layout.InvalidName as exc:
            report.errors.append((str(db_dir), str(exc)))
            error(f"{db_dir}: {exc}")
            continue
        db_report = DbReport(db)
        report.databases.append(db_report)
        await _import_db(store, db, db_dir / "docs", db_report, report, error)
        progress(db_report.line())
    return report


async def _import_db(store: Store, db: str, docs_dir: Path, db_report: DbReport, report: ImportReport,
                     error: Callable[[str], None]) -> None:
    def fail(path: Path | str, message: str) -> None:
        db_report.errors += 1
        report.errors.append((str(path), message))
        error(f"{path}: {message}")

    await store.create_db(db)
    files = sorted(docs_dir.glob("*.json")) if docs_dir.is_dir() else []
    for start in range(0, len(files), BATCH):  # a batch of files in memory at a time
        batch: list[tuple[Path, dict]] = []
        for path in files[start:start + BATCH]:
            try:
                batch.append((path, _load(path)))
            except _FileError as exc:
                fail(path, str(exc))
        if not batch:
            continue
        stored = await store.bulk_get(db, [doc["_id"] for _, doc in batch])
        writes: list[tuple[Path, dict, int]] = []
        for (path, doc), current in zip(batch, stored):
            target, skipped = _target(doc, current)
            db_report.skipped_stubs += skipped
            if skipped:
                log.debug("%s: %d attachment stub(s) without data skipped", path, skipped)
            inline = sum(1 for spec in target.get("_attachments", {}).values() if "data" in spec)
            if current is not None and _same(target, current):
                db_report.unchanged += 1
                db_report.attachments += inline
                continue
            if current is not None:
                target["_rev"] = current["_rev"]
            writes.append((path, target, inline))
        if not writes:
            continue
        try:
            results = await store.bulk_put(db, [target for _, target, _ in writes])
        except BadRequest as exc:  # the server refused the whole batch: find the culprit
            results = [await _put_one(store, db, target) for _, target, _ in writes]
            log.debug("batch refused (%s); wrote one by one", exc)
        for (path, _, inline), result in zip(writes, results):
            if result.ok:
                db_report.written += 1
                db_report.attachments += inline
            else:
                fail(path, f"not written: {result.error}: {result.reason}")


async def _put_one(store: Store, db: str, doc: dict) -> BulkResult:
    try:
        saved = await store.put(db, doc)
    except StoreError as exc:
        return BulkResult(doc["_id"], False, error=type(exc).__name__, reason=str(exc))
    return BulkResult(doc["_id"], True, rev=saved["_rev"])


def _load(path: Path) -> dict:
    """The document in ``path``, checked enough that writing it cannot half-fail."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _FileError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _FileError(f"not a JSON object but {type(doc).__name__}")
    doc_id = doc.get("_id", unquote(path.stem))
    if not isinstance(doc_id, str) or not doc_id or doc_id.startswith("_"):
        raise _FileError(f"unusable document id {doc_id!r}")
    doc["_id"] = doc_id
    attachments = doc.get("_attachments")
    if attachments is not None:
        if not isinstance(attachments, dict) or not all(isinstance(s, dict) for s in attachments.values()):
            raise _FileError("_attachments must map names to objects")
        for name, spec in attachments.items():
            if "data" in spec:
                try:
                    base64.b64decode(spec["data"], validate=True)
                except (binascii.Error, TypeError, ValueError):
                    raise _FileError(f"attachment {name!r}: data is not valid base64") from None
    return doc


def _target(doc: dict, current: dict | None) -> tuple[dict, int]:
    """The document to write: no ``_rev``; inline attachments as given; stubs only for
    attachments the stored document has.  Also the number of stubs skipped."""
    target = {k: v for k, v in doc.items() if k not in ("_rev", "_attachments")}
    have = (current or {}).get("_attachments", {})
    attachments, skipped = {}, 0
    for name, spec in (doc.get("_attachments") or {}).items():
        if "data" in spec:
            attachments[name] = {"content_type": spec.get("content_type") or "application/octet-stream",
                                 "data": spec["data"]}
        elif name in have:
            attachments[name] = {"stub": True}
        else:
            skipped += 1
    if attachments:
        target["_attachments"] = attachments
    return target, skipped


def _same(target: dict, current: dict) -> bool:
    """Whether writing ``target`` would leave ``current`` as it is."""
    strip = ("_rev", "_attachments")
    if {k: v for k, v in target.items() if k not in strip} != {k: v for k, v in current.items() if k not in strip}:
        return False
    want = target.get("_attachments", {})
    have = current.get("_attachments", {})
    if set(want) != set(have):
        return False
    for name, spec in want.items():
        if "data" in spec:
            data = base64.b64decode(spec["data"])
            if (have[name].get("digest") != attachment_digest(data)
                    or have[name].get("content_type") != spec["content_type"]):
                return False
    return True
