"""JSON paths inside configuration documents (config.md 1.1, 1.5, 2.3).

A *key* on the wire is either one string (taken literally, dots included) or
a list of strings (a path into nested objects).  Inside kzvoice a key is
always a tuple of strings; :func:`to_path` makes one.

Lookups never raise: a path that does not resolve -- including one that runs
into a non-object on the way (config.md 1.5, ours) -- gives :data:`MISSING`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Iterable, Iterator


class _Missing:
    """The one "no value" marker: distinct from JSON ``null`` (``None``)."""

    _instance: "_Missing | None" = None

    def __new__(cls) -> "_Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):  # keep it a singleton across copies
        return (_Missing, ())


MISSING: Any = _Missing()

Path = tuple[str, ...]


class InvalidKey(ValueError):
    """A key that is neither a non-empty string nor a non-empty list of strings."""


def to_path(key: Any) -> Path:
    """The path of a wire key: ``"a.b"`` -> ``("a.b",)``; ``["a", "b"]`` -> ``("a", "b")``."""
    if isinstance(key, str):
        if not key:
            raise InvalidKey("Key must not be empty")
        return (key,)
    if isinstance(key, (list, tuple)):
        if not key or not all(isinstance(part, str) and part for part in key):
            raise InvalidKey(f"Key must be a non-empty list of non-empty strings, got {key!r}")
        return tuple(key)
    raise InvalidKey(f"Key must be a string or a list of strings, got {type(key).__name__}")


def to_wire_key(path: Path) -> str | list[str]:
    """The inverse of :func:`to_path`: one element -> string, more -> list."""
    return path[0] if len(path) == 1 else list(path)


def split_dotted(key: str) -> Path:
    """What the operator tool (and KAZOO's ``sup``) does to a dotted key: ``a.b`` -> ``("a", "b")``."""
    parts = tuple(part for part in key.split("."))
    if not key or any(not part for part in parts):
        raise InvalidKey(f"{key!r} is not a valid dotted key")
    return parts


def get_path(doc: Any, path: Iterable[str]) -> Any:
    """The value at ``path`` in ``doc``, or MISSING; a non-object on the way is MISSING."""
    node = doc
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def set_path(doc: dict, path: Path, value: Any) -> dict:
    """Set ``value`` at ``path`` in ``doc`` (in place; also returned).

    Intermediate objects are created, a non-object met on the way is replaced
    by an object, sibling keys are kept.  ``None`` (JSON null) deletes the key
    instead, as KAZOO's JSON setter does; deleting an absent key changes nothing.
    """
    if value is None:
        delete_path(doc, path)
        return doc
    node = doc
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value
    return doc


def delete_path(doc: dict, path: Path) -> bool:
    """Remove the key at ``path``; True if something was removed.  Parents are left in place."""
    node: Any = doc
    for part in path[:-1]:
        if not isinstance(node, dict):
            return False
        node = node.get(part)
    if isinstance(node, dict) and path[-1] in node:
        del node[path[-1]]
        return True
    return False


def is_private(key: str) -> bool:
    """CouchDB identity and KAZOO private fields: ``_id``, ``_rev``, ``pvt_*``."""
    return key.startswith("_") or key.startswith("pvt_")


def public(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document without its private top-level fields (a shallow copy)."""
    return {k: v for k, v in doc.items() if not is_private(k)}


def leaves(obj: Mapping[str, Any], prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf of an object: non-object values (arrays included).  ``{}`` has none."""
    for key, value in obj.items():
        if isinstance(value, Mapping):
            yield from leaves(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def merge_recursive(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Deep-merge objects given lowest precedence first (config.md 2.3, hierarchy_merge step 3).

    Each higher document's leaves are set into the result: objects merge key by
    key, arrays and scalars replace, a ``null`` leaf removes the inherited
    value, an empty object adds nothing.  Private fields are dropped first.
    """
    result: dict[str, Any] = {}
    for doc in docs:
        for path, value in leaves(public(doc)):
            set_path(result, path, copy.deepcopy(value))
    return result
