"""Voicemail PINs: checking an entered PIN, rules for a new PIN, optional hashing.

KAZOO compares the digits typed with the box's ``pin`` string (voicemail.md
5.3, the PIN rule) and accepts a new PIN when both entries agree and the box document
with it passes ``vmboxes.json`` (5.9.1: a string of 4 to 6 characters, the
whole document valid).  On top of that (spec README, "Beyond KAZOO"):

* every comparison is constant-time: both sides are reduced to SHA-256
  digests first, so neither the content nor the length of the stored PIN
  shows in the timing;
* with ``callflow.voicemail.pin_hashing`` on, a PIN set from the phone is
  stored as a salted PBKDF2 hash in ``pvt_pin_hash`` and the clear ``pin``
  is removed.  Boxes keep working either way: a box with a hash is checked
  against the hash, any other against ``pin``.  Off by default, because a
  KAZOO node sharing the database only knows ``pin``.

A 4-6 digit PIN has at most a million values, so the hash slows down an
offline guess but cannot prevent it; the lockout (``lockout.py``) is what
stops guessing on the phone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any, Mapping

PIN_HASH_FIELD = "pvt_pin_hash"
HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 100_000
MIN_PIN_LENGTH = 4          # vmboxes.json pin: minLength 4, maxLength 6
MAX_PIN_LENGTH = 6


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def same_secret(entered: str, stored: str) -> bool:
    """``entered == stored`` in time that depends on neither value."""
    return hmac.compare_digest(_digest(entered), _digest(stored))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_pin(pin: str, *, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<hash>`` (base64 salt and hash)."""
    salt = os.urandom(16) if salt is None else salt
    derived = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(derived)}"


def verify_hash(encoded: str, pin: str) -> bool:
    """Whether ``pin`` matches a value of :func:`hash_pin`; False for anything malformed."""
    try:
        scheme, iterations, salt, expected = encoded.split("$")
        if scheme != HASH_SCHEME:
            return False
        derived = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), base64.b64decode(salt), int(iterations))
        return hmac.compare_digest(derived, base64.b64decode(expected))
    except (ValueError, TypeError):
        return False


def stored_hash(box: Mapping[str, Any]) -> str | None:
    value = box.get(PIN_HASH_FIELD)
    return value if isinstance(value, str) and value else None


def clear_pin(box: Mapping[str, Any]) -> str:
    value = box.get("pin")
    return value if isinstance(value, str) else ""


def has_pin(box: Mapping[str, Any]) -> bool:
    """A box without a PIN cannot be entered by anyone who needs one (5.3, ``login.box_without_pin``)."""
    return stored_hash(box) is not None or clear_pin(box) != ""


def pin_matches(box: Mapping[str, Any], entered: str) -> bool:
    """The PIN check of 5.3: exact match, constant time; never true for a box without a PIN."""
    encoded = stored_hash(box)
    if encoded is not None:
        return verify_hash(encoded, entered)
    stored = clear_pin(box)
    # compare even when there is no PIN, so the time taken says nothing about it
    return same_secret(entered, stored) and stored != ""


def new_pin_problem(first: str, second: str) -> str | None:
    """Why a new PIN entered twice is refused (5.9.1 step 3), or None.

    The rest of the box document is checked when it is saved (``box_problem``
    in ``boxes.mailbox``), as KAZOO validates the whole document.
    """
    if not first and not second:
        return "empty"
    if not same_secret(first, second):
        return "entries differ"
    if not MIN_PIN_LENGTH <= len(first) <= MAX_PIN_LENGTH:
        return f"a PIN has {MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} characters"
    return None


def with_new_pin(box: Mapping[str, Any], pin: str, *, hashing: bool) -> dict[str, Any]:
    """A copy of ``box`` carrying ``pin``: clear in ``pin``, or hashed in ``pvt_pin_hash`` without ``pin``."""
    updated = dict(box)
    if hashing:
        updated.pop("pin", None)
        updated[PIN_HASH_FIELD] = hash_pin(pin)
    else:
        updated.pop(PIN_HASH_FIELD, None)
        updated["pin"] = pin
    return updated
