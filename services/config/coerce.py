"""KAZOO's coercions for typed config getters (config.md 2.5).

Each function takes the raw value ``v`` -- already resolved, with the caller's
default substituted when the key was missing (so the default goes through the
same coercion) -- and the caller's default ``d``.  Where KAZOO would crash on a
bad value these raise :class:`BadValue`; the client turns that into ``d`` plus
one warning (config.md 8, item 6).  ``MISSING`` stands for "no value".
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from services.config.paths import MISSING


class BadValue(ValueError):
    """A stored value KAZOO's getter would crash on; the caller's default is used instead."""


_INT_TEXT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT_TEXT = re.compile(r"^[+-]?[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?$")

# kz_term:is_empty/1 as config.md 2.5 lists it
_EMPTY_TEXT = frozenset(("", "0", "NULL", "undefined"))


def is_int(v: Any) -> bool:
    """A JSON integer (Python bools are not integers here)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_empty(v: Any) -> bool:
    """KAZOO's notion of an empty value (missing, null, "", "0", "NULL", "undefined", 0, 0.0, [], {})."""
    if v is MISSING or v is None:
        return True
    if isinstance(v, str):
        return v in _EMPTY_TEXT
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return v == 0
    if isinstance(v, (list, dict)):
        return not v
    return False


def round_half_away(x: float) -> int:
    """Erlang's ``round/1``: halves go away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def is_true(v: Any) -> bool:
    return v is True or v == "true"


def is_false(v: Any) -> bool:
    return v is False or v == "false"


def to_boolean(v: Any, d: Any) -> Any:
    if v is MISSING:
        return d
    if v == d and type(v) is type(d):
        return d
    if is_true(v):
        return True
    if is_false(v):
        return False
    raise BadValue(f"{v!r} is not a boolean")


def to_integer(v: Any) -> Any:
    """integer -> itself; float -> rounded; numeric text -> its value; anything else -> BadValue."""
    if v is MISSING:
        return MISSING
    if is_int(v):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return round_half_away(v)
    if isinstance(v, str):
        if _INT_TEXT.match(v):
            return int(v)
        if _FLOAT_TEXT.match(v):
            return round_half_away(float(v))
    raise BadValue(f"{v!r} is not an integer")


def to_non_neg_integer(v: Any, d: Any) -> Any:
    """Only a raw JSON integer >= 0 counts; anything else (numeric text included) gives ``d``."""
    return v if is_int(v) and v >= 0 else d


def to_pos_integer(v: Any, d: Any) -> Any:
    return v if is_int(v) and v > 0 else d


def to_text(v: Any) -> str:
    """kz_term:to_binary/1 for the types config values can have."""
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if is_int(v):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dict):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    if isinstance(v, list):
        return "".join(_iolist(v))
    raise BadValue(f"{v!r} has no text form")


def _iolist(items: list) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif is_int(item) and 0 <= item <= 255:
            out.append(chr(item))
        elif isinstance(item, list):
            out.extend(_iolist(item))
        else:
            raise BadValue(f"list member {item!r} cannot be joined into text")
    return out


def to_ne_binary(v: Any, d: Any) -> Any:
    """Empty -> ``d``; otherwise the value's text (a list of strings is joined, as KAZOO does)."""
    if is_empty(v):
        return d
    return to_text(v)


def to_ne_binaries(v: Any, d: Any) -> Any:
    """System-level ``get_ne_binaries``: a string stays; a list keeps its non-empty members as text."""
    if v is MISSING or v == "" or v == []:
        return d
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        out = []
        for member in v:
            if is_empty(member):
                continue
            try:
                out.append(to_text(member))
            except BadValue:
                continue
        return out
    raise BadValue(f"{v!r} is not a list of strings")


def to_account_ne_binaries(v: Any, d: Any) -> Any:
    """Account-level ``get_ne_binaries``: a list of non-empty strings (``[]`` included), else ``d``."""
    if isinstance(v, list) and all(isinstance(m, str) and m for m in v):
        return v
    return d


def to_json(v: Any, d: Any) -> Any:
    return v if isinstance(v, dict) else d


def to_binary(v: Any, d: Any) -> Any:
    """``get_binary``: text of any value; missing -> ``d``."""
    if v is MISSING or v is None:
        return d
    return to_text(v)
