"""Bytes on the wire <-> JSON objects (bus.md 2.1).

Only the bus layer encodes and decodes; everything above it sees dicts and
``Message`` objects.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any, Mapping

import orjson

from services.messages.errors import InvalidMessage

CONTENT_TYPE = "application/json"
# A decoded gzip body may not exceed this; guards against compression bombs.
MAX_BODY_BYTES = 4 * 1024 * 1024


def encode(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body)


def decode(data: bytes, *, content_type: str | None, content_encoding: str | None = None) -> dict[str, Any]:
    """Decode one delivery's body, or raise ``InvalidMessage`` saying why not."""
    if (content_type or "").split(";", 1)[0].strip().lower() != CONTENT_TYPE:
        raise InvalidMessage(f"content type {content_type!r} is not {CONTENT_TYPE}", reason="content_type")
    if len(data) > MAX_BODY_BYTES:
        raise InvalidMessage(f"body of {len(data)} bytes exceeds {MAX_BODY_BYTES}", reason="too_large")
    if content_encoding:
        if content_encoding.lower() != "gzip":
            raise InvalidMessage(f"content encoding {content_encoding!r} is not supported", reason="encoding")
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data = inflater.decompress(data, MAX_BODY_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise InvalidMessage(f"gzip body does not inflate: {exc}", reason="encoding") from None
        if len(data) > MAX_BODY_BYTES or inflater.unconsumed_tail:
            raise InvalidMessage(f"inflated body exceeds {MAX_BODY_BYTES} bytes", reason="too_large")
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"body is not JSON: {exc}", reason="not_json") from None
    if not isinstance(body, dict):
        raise InvalidMessage(f"body is a JSON {type(body).__name__}, not an object", reason="not_object")
    return body
