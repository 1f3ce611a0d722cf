"""Erlang External Term Format, just what ``action.result`` needs (bus.md 3.8.3-3.8.5).

KAZOO's callflow executor reads an action's result as
``binary_to_term(base64:decode(Result))``.  This module writes and reads those
terms with our own small codec:

Python representation
    ``Atom`` (a ``str`` subclass) for atoms, ``bytes`` for binaries, ``tuple``
    for tuples, ``list`` for proper lists, ``int`` and ``float``.  ``encode``
    also takes ``True``/``False`` (written as the atoms ``true``/``false``).

What is written (``encode``)
    Version byte 131, then ``ATOM_EXT`` (Latin-1 names; ``SMALL_ATOM_UTF8_EXT`` or
    ``ATOM_UTF8_EXT`` for a name Latin-1 cannot carry), ``BINARY_EXT``,
    ``SMALL_TUPLE_EXT`` (``LARGE_TUPLE_EXT`` above 255 elements), ``LIST_EXT``
    ending in ``NIL_EXT`` or ``NIL_EXT`` alone, ``SMALL_INTEGER_EXT`` for
    0..255, ``INTEGER_EXT`` for other 32-bit values, ``SMALL_BIG_EXT`` up to
    255 bytes of magnitude and ``LARGE_BIG_EXT`` beyond (any size),
    ``NEW_FLOAT_EXT`` for floats.  Never compressed.  The encoder is total: it
    refuses only what has no Erlang term (see ``encode``); a result that cannot
    be written is answered ``continue`` instead (``encode_result_or_continue``).

What is read (``decode``)
    All of the above plus ``SMALL_ATOM_EXT`` and ``STRING_EXT`` (read as a list
    of ints).  Every other tag -- pids, ports, references, funs, maps,
    compressed terms, improper lists, ... -- is refused with ``ValueError``, as
    are trailing bytes, non-finite floats, inputs over ``MAX_INPUT_BYTES`` and
    nesting deeper than ``MAX_DEPTH``.  Nested terms are walked with a stack of
    our own, so depth never meets Python's recursion limit.

JSON inside terms (``json_to_term`` / ``term_to_json``)
    KAZOO's JSON object is ``{PropList}``: a 1-tuple holding a list of
    ``{<<"key">>, Value}`` pairs in document order (``{}`` is ``{[]}``);
    strings are binaries, ``true``/``false``/``null`` are atoms, arrays are
    lists.

Action results (``ActionResult``, ``encode_result``, ``decode_result``)
    ``ActionResult(kind, value)`` with ``kind`` one of ``continue`` (value: an
    optional child key), ``stop`` (value: an optional hangup cause),
    ``continue_with_flow`` (value: the flow node, a dict), ``transfer`` and
    ``usurp`` (no value).  ``encode_result`` gives the base64 text KAZOO
    expects.  ``decode_result`` reads that text and also a JSON text, which is
    our extension (spec README, compatibility policy 4):

    * ``"continue"``, ``"stop"``, ``"transfer"``, ``"usurp"`` -- a JSON string;
    * ``{"continue": "Key"}``, ``{"stop": "Cause"}`` -- an object with exactly
      one member; ``null`` as the value means no key / no cause;
    * ``{"continue_with_flow": {...flow node...}}``.

    Base64 text always starts with ``g`` (the version byte 131), JSON text with
    ``"`` or ``{``, so the two forms cannot be confused.  A result that is
    neither is refused with ``ValueError``; bus.md 3.8.3 has the executor log
    it and carry on as ``continue``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import struct
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Generator

log = logging.getLogger(__name__)

__all__ = ["Atom", "encode", "decode", "json_to_term", "term_to_json",
           "ActionResult", "RESULT_KINDS", "encode_result", "encode_result_or_continue", "decode_result",
           "result_to_term", "result_from_term"]

VERSION = 131
NEW_FLOAT_EXT = 70
SMALL_INTEGER_EXT = 97
INTEGER_EXT = 98
ATOM_EXT = 100
SMALL_TUPLE_EXT = 104
LARGE_TUPLE_EXT = 105
NIL_EXT = 106
STRING_EXT = 107
LIST_EXT = 108
BINARY_EXT = 109
SMALL_BIG_EXT = 110
LARGE_BIG_EXT = 111
SMALL_ATOM_EXT = 115
ATOM_UTF8_EXT = 118
SMALL_ATOM_UTF8_EXT = 119

# Bounds.  A term (or JSON value) deeper than MAX_DEPTH is neither written nor read; a JSON
# text from the bus is at most 1024 levels deep (orjson), a term from it three times that.
MAX_DEPTH = 10_000
MAX_INPUT_BYTES = 1 << 20   # the decoder's input, from the bus
MAX_ATOM_CHARS = 255  # Erlang's own limit

_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_UINT16 = struct.Struct(">H")
_DOUBLE = struct.Struct(">d")


class Atom(str):
    """An Erlang atom; compares equal to the ``str`` of its name."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Atom({str.__repr__(self)})"


TRUE, FALSE, NULL = Atom("true"), Atom("false"), Atom("null")


# ---- walking nested terms without recursion ----------------------------------------

Walk = Generator[Any, Any, Any]


def _run(walk: Walk) -> Any:
    """Run a nested walk with a stack of our own instead of Python's call stack.

    A walk is a generator that yields the walk of each child and is sent the child's result
    back; the value it returns is its own result.  Nesting is bounded by ``MAX_DEPTH``, never
    by Python's recursion limit."""
    stack = [walk]
    value = None
    while stack:
        try:
            child = stack[-1].send(value)
        except StopIteration as done:
            stack.pop()
            value = done.value
            continue
        if len(stack) >= MAX_DEPTH:          # the child would be one level too deep
            raise ValueError(f"term nested deeper than {MAX_DEPTH}")
        stack.append(child)
        value = None
    return value


def _enter(container: Any, active: set[int]) -> int:
    key = id(container)
    if key in active:
        raise ValueError("the term contains itself")
    active.add(key)
    return key


# ---- encoding -------------------------------------------------------------------

def encode(term: Any) -> bytes:
    """``term_to_binary`` of ``term``.

    Total over the Python forms of the module docstring: it raises only for what has no
    Erlang term at all -- ``ValueError`` for a non-finite float, an atom over 255 characters
    (Erlang's limit) or not encodable as UTF-8, a term that contains itself, nesting deeper
    than ``MAX_DEPTH``, a size past 2**32 - 1; ``TypeError`` for a ``str`` (binary or atom?)
    and any other type."""
    out = bytearray((VERSION,))
    _run(_encode(term, out, set()))
    return bytes(out)


def _encode(term: Any, out: bytearray, active: set[int]) -> Walk:
    if isinstance(term, Atom):
        _encode_atom(term, out)
    elif isinstance(term, bool):
        _encode_atom(TRUE if term else FALSE, out)
    elif isinstance(term, int):
        _encode_int(term, out)
    elif isinstance(term, float):
        if not math.isfinite(term):
            raise ValueError(f"Erlang has no float {term!r}")
        out.append(NEW_FLOAT_EXT)
        out += _DOUBLE.pack(term)
    elif isinstance(term, (bytes, bytearray)):
        out.append(BINARY_EXT)
        out += _UINT32.pack(_size(len(term), "binary"))
        out += term
    elif isinstance(term, (tuple, list)):
        key = _enter(term, active)
        if isinstance(term, tuple):
            if len(term) <= 255:
                out += bytes((SMALL_TUPLE_EXT, len(term)))
            else:
                out.append(LARGE_TUPLE_EXT)
                out += _UINT32.pack(_size(len(term), "tuple"))
        elif term:
            out.append(LIST_EXT)
            out += _UINT32.pack(_size(len(term), "list"))
        for element in term:
            yield _encode(element, out, active)
        if isinstance(term, list):
            out.append(NIL_EXT)
        active.discard(key)
    elif isinstance(term, str):
        raise TypeError(f"ambiguous str {term!r:.40}: use bytes for a binary or Atom for an atom")
    else:
        raise TypeError(f"no Erlang term for {type(term).__name__}")


def _size(n: int, what: str) -> int:
    if n > 0xFFFFFFFF:
        raise ValueError(f"{what} of {n} elements is past the term format's 2**32 - 1")
    return n


def _encode_atom(atom: str, out: bytearray) -> None:
    if len(atom) > MAX_ATOM_CHARS:
        raise ValueError(f"atom longer than {MAX_ATOM_CHARS} characters")
    try:
        name = atom.encode("latin-1")
    except UnicodeEncodeError:
        pass
    else:
        out.append(ATOM_EXT)
        out += _UINT16.pack(len(name))
        out += name
        return
    # beyond Latin-1 only the UTF-8 forms can carry the name (read by every OTP since R16)
    try:
        name = atom.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"atom {atom!r:.40} is not valid Unicode text") from None
    if len(name) <= 255:
        out += bytes((SMALL_ATOM_UTF8_EXT, len(name)))
    else:
        out.append(ATOM_UTF8_EXT)
        out += _UINT16.pack(len(name))
    out += name


def _encode_int(value: int, out: bytearray) -> None:
    if 0 <= value <= 255:
        out += bytes((SMALL_INTEGER_EXT, value))
    elif -(1 << 31) <= value < (1 << 31):
        out.append(INTEGER_EXT)
        out += _INT32.pack(value)
    else:
        magnitude = abs(value)
        digits = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "little")
        if len(digits) <= 255:
            out += bytes((SMALL_BIG_EXT, len(digits)))
        else:
            out.append(LARGE_BIG_EXT)
            out += _UINT32.pack(_size(len(digits), "integer"))
        out.append(1 if value < 0 else 0)
        out += digits


# ---- decoding -------------------------------------------------------------------

def decode(data: bytes) -> Any:
    """``binary_to_term`` restricted to the tags of bus.md 3.8.4 (and ``LARGE_BIG_EXT``);
    anything else raises ``ValueError``."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("decode takes bytes")
    data = bytes(data)
    if len(data) > MAX_INPUT_BYTES:
        raise ValueError(f"term of {len(data)} bytes exceeds {MAX_INPUT_BYTES}")
    if not data or data[0] != VERSION:
        raise ValueError("not an external term: version byte 131 missing")
    reader = _Reader(data, 1)
    term = _run(reader.term())
    if reader.pos != len(data):
        raise ValueError(f"{len(data) - reader.pos} trailing byte(s) after the term")
    return term


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ValueError("term truncated")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise ValueError("term truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        return _UINT16.unpack(self.take(2))[0]

    def u32(self) -> int:
        return _UINT32.unpack(self.take(4))[0]

    def count(self, n: int, what: str) -> int:
        # every element takes at least one byte: a larger count is a lie, refuse before looping
        if n > len(self.data) - self.pos:
            raise ValueError(f"{what} of {n} elements does not fit in the input")
        return n

    def atom(self, size: int, encoding: str) -> Atom:
        try:
            name = self.take(size).decode(encoding)
        except UnicodeDecodeError:
            raise ValueError("atom name is not valid UTF-8") from None
        if len(name) > MAX_ATOM_CHARS:
            raise ValueError(f"atom longer than {MAX_ATOM_CHARS} characters")
        return Atom(name)

    def big(self, n: int) -> int:
        sign = self.u8()
        if sign > 1:
            raise ValueError("bad sign byte in a big integer")
        magnitude = int.from_bytes(self.take(n), "little")
        return -magnitude if sign else magnitude

    def term(self) -> Walk:
        tag = self.u8()
        if tag == SMALL_INTEGER_EXT:
            return self.u8()
        if tag == INTEGER_EXT:
            return _INT32.unpack(self.take(4))[0]
        if tag == SMALL_BIG_EXT:
            return self.big(self.u8())
        if tag == LARGE_BIG_EXT:
            return self.big(self.u32())
        if tag == NEW_FLOAT_EXT:
            value = _DOUBLE.unpack(self.take(8))[0]
            if not math.isfinite(value):
                raise ValueError("non-finite float")
            return value
        if tag == ATOM_EXT:
            return self.atom(self.u16(), "latin-1")
        if tag == SMALL_ATOM_EXT:
            return self.atom(self.u8(), "latin-1")
        if tag == ATOM_UTF8_EXT:
            return self.atom(self.u16(), "utf-8")
        if tag == SMALL_ATOM_UTF8_EXT:
            return self.atom(self.u8(), "utf-8")
        if tag == BINARY_EXT:
            return self.take(self.u32())
        if tag in (SMALL_TUPLE_EXT, LARGE_TUPLE_EXT):
            arity = self.count(self.u8() if tag == SMALL_TUPLE_EXT else self.u32(), "tuple")
            elements = []
            for _ in range(arity):
                elements.append((yield self.term()))
            return tuple(elements)
        if tag == NIL_EXT:
            return []
        if tag == STRING_EXT:
            return list(self.take(self.u16()))
        if tag == LIST_EXT:
            length = self.count(self.u32(), "list")
            items = []
            for _ in range(length):
                items.append((yield self.term()))
            if self.u8() != NIL_EXT:
                raise ValueError("improper list (tail is not [])")
            return items
        raise ValueError(f"term tag {tag} is not accepted")


# ---- JSON <-> term (KAZOO's {PropList} objects) ------------------------------------

def json_to_term(value: Any) -> Any:
    """A JSON value (as ``json.loads`` gives it) as KAZOO holds it in Erlang."""
    return _run(_json_to_term(value, set()))


def _json_to_term(value: Any, active: set[int]) -> Walk:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return TRUE if value else FALSE
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, Mapping):
        key = _enter(value, active)
        pairs = []
        for name, item in value.items():
            if not isinstance(name, str):
                raise TypeError(f"JSON object keys are strings, not {type(name).__name__}")
            pairs.append((name.encode("utf-8"), (yield _json_to_term(item, active))))
        active.discard(key)
        return (pairs,)
    if isinstance(value, (list, tuple)):
        key = _enter(value, active)
        items = []
        for item in value:
            items.append((yield _json_to_term(item, active)))
        active.discard(key)
        return items
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def term_to_json(term: Any) -> Any:
    """The JSON value a KAZOO term stands for; ``ValueError`` when it stands for none."""
    return _run(_term_to_json(term))


def _term_to_json(term: Any) -> Walk:
    if isinstance(term, Atom):
        if term == "true":
            return True
        if term == "false":
            return False
        if term == "null":
            return None
        return str(term)
    if isinstance(term, bool):
        return term
    if isinstance(term, (int, float)):
        return term
    if isinstance(term, bytes):
        try:
            return term.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("binary is not UTF-8 text") from None
    if isinstance(term, list):
        items = []
        for item in term:
            items.append((yield _term_to_json(item)))
        return items
    if isinstance(term, tuple) and len(term) == 1 and isinstance(term[0], list):
        obj: dict[str, Any] = {}
        for pair in term[0]:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], (bytes, Atom))):
                raise ValueError("a JSON object term holds {Key, Value} pairs with binary keys")
            name = yield _term_to_json(pair[0])
            if not isinstance(name, str):
                raise ValueError("a JSON object key must be text")
            obj[name] = yield _term_to_json(pair[1])
        return obj
    raise ValueError(f"term {term!r:.60} is not a JSON value")


# ---- action results ------------------------------------------------------------

# kind -> what its value may be
RESULT_KINDS: Mapping[str, tuple[type, ...]] = {
    "continue": (str, type(None)),
    "stop": (str, type(None)),
    "continue_with_flow": (dict,),
    "transfer": (type(None),),
    "usurp": (type(None),),
}


@dataclass(frozen=True)
class ActionResult:
    """How a remotely executed callflow module ended (bus.md 3.8.3)."""

    kind: str
    value: str | dict | None = None

    def __post_init__(self) -> None:
        allowed = RESULT_KINDS.get(self.kind)
        if allowed is None:
            raise ValueError(f"unknown result kind {self.kind!r}; expected one of {', '.join(RESULT_KINDS)}")
        if not isinstance(self.value, allowed):
            raise ValueError(f"a {self.kind!r} result cannot carry {type(self.value).__name__}")


def result_to_term(result: ActionResult | tuple[str, Any]) -> Any:
    if not isinstance(result, ActionResult):
        result = ActionResult(*result)
    kind = Atom(result.kind)
    if result.value is None:
        return kind
    if result.kind == "continue_with_flow":
        return (kind, json_to_term(result.value))
    return (kind, result.value.encode("utf-8"))


def result_from_term(term: Any) -> ActionResult:
    """The result a decoded term stands for; ``ValueError`` for any other shape."""
    if isinstance(term, Atom) and term in RESULT_KINDS and type(None) in RESULT_KINDS[term]:
        return ActionResult(str(term))
    if isinstance(term, tuple) and len(term) == 2 and isinstance(term[0], Atom):
        kind, value = str(term[0]), term[1]
        if kind in ("continue", "stop") and isinstance(value, bytes):
            return ActionResult(kind, term_to_json(value))
        if kind == "continue_with_flow":
            flow = term_to_json(value)
            if isinstance(flow, dict):
                return ActionResult(kind, flow)
    raise ValueError(f"not an action result term: {term!r:.80}")


def encode_result(result: ActionResult | tuple[str, Any]) -> str:
    """The ``Result`` field of action.result: base64 (standard, padded) of the term."""
    return base64.b64encode(encode(result_to_term(result))).decode("ascii")


CONTINUE_TEXT = "g2QACGNvbnRpbnVl"      # encode_result(ActionResult("continue"))


def encode_result_or_continue(result: ActionResult) -> tuple[str, str]:
    """``(Result field, kind sent)``: the result's own encoding, or -- when it has no Erlang
    term (a flow holding a NaN or something that is no JSON value, text that is not Unicode) --
    ``continue``, logged with the reason.  An action.result must go out either way: KAZOO's
    executor waits for it until the call ends."""
    try:
        return encode_result(result), result.kind
    except (ValueError, TypeError) as exc:
        log.error("the %s result cannot be written as an Erlang term (%s); answering continue instead",
                  result.kind, exc)
        return CONTINUE_TEXT, "continue"


def decode_result(text: str | bytes) -> ActionResult:
    """Read a ``Result`` field: base64 Erlang term (KAZOO) or JSON (ours; see the module docstring)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("result is neither base64 nor JSON text") from None
    if not isinstance(text, str):
        raise TypeError("decode_result takes text")
    text = text.strip()
    if len(text) > (MAX_INPUT_BYTES // 3 + 1) * 4:
        raise ValueError("result text too long")
    if text[:1] in ('"', "{"):
        return _result_from_json(text)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("result is neither base64 nor JSON text") from None
    return result_from_term(decode(data))


def _result_from_json(text: str) -> ActionResult:
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError("result is not valid JSON") from None
    if isinstance(value, str):
        if value in RESULT_KINDS and type(None) in RESULT_KINDS[value]:
            return ActionResult(value)
    elif isinstance(value, dict) and len(value) == 1:
        ((kind, item),) = value.items()
        if kind in RESULT_KINDS:
            try:
                return ActionResult(kind, item)
            except ValueError:
                pass
    raise ValueError(f"not a JSON action result: {text:.80}")
