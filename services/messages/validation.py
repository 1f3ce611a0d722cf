"""Validation of message bodies against our schemas (``schemas/messages/``).

Each schema is compiled once with fastjsonschema, lazily on first use and
cached per declaration; ``Validator.compile_all()`` compiles everything up
front (call it at service start so the first message pays nothing).  A
compiled validator checks a KAZOO-size message in a few microseconds.

* ``identify(body)`` finds the declaration from ``Event-Category``,
  ``Event-Name`` and, for call commands, ``Application-Name``;
* ``Validator.validate(spec, body)`` raises ``InvalidMessage`` with a detail
  naming the field and the problem;
* ``Validator.parse(body)`` is both, and wraps the body in a ``Message``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable

import fastjsonschema

from services.messages import catalogue
from services.messages.errors import InvalidMessage, UnknownMessage
from services.messages.spec import DEFAULT_HEADERS, Message, MessageSpec

__all__ = ["Validator", "identify", "default_schema_dir"]

_Compiled = Callable[[Any], Any]


def default_schema_dir() -> Path:
    """The repository's ``schemas/`` folder (``Settings().schema_dir`` without reading the environment)."""
    return Path(__file__).resolve().parent.parent.parent / "schemas"


def identify(body: Mapping[str, Any]) -> MessageSpec:
    """The declaration ``body`` claims to be, from its default headers.

    Raises ``InvalidMessage`` (reason ``missing_header``) when a default header
    is absent, empty or not a string, and ``UnknownMessage`` when no
    declaration matches.
    """
    if not isinstance(body, Mapping):
        raise InvalidMessage(f"a message is a JSON object, not {type(body).__name__}", reason="not_object")
    for header in DEFAULT_HEADERS:
        value = body.get(header)
        if not value or not isinstance(value, str):
            what = "missing" if value is None or value == "" else f"not a string ({type(value).__name__})"
            raise InvalidMessage(f"default header {header!r} is {what}", reason="missing_header")
    category = body["Event-Category"]
    name = body["Event-Name"]
    application = None
    if category == "call" and name == "command":
        application = body.get("Application-Name")
        if not isinstance(application, str):
            application = None
    spec = catalogue.lookup(category, name, application)
    if spec is None:
        what = f"{category}/{name}" + (f" (Application-Name {application!r})" if application else "")
        raise UnknownMessage(f"no declaration for {what}")
    return spec


class Validator:
    """Compiled schema validators for the catalogue's declarations."""

    def __init__(self, schema_dir: str | Path | None = None) -> None:
        root = Path(schema_dir) if schema_dir is not None else default_schema_dir()
        self.schema_dir = root / "messages"
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    # -- compiling -----------------------------------------------------------

    def _compile(self, spec: MessageSpec) -> _Compiled:
        with self._lock:
            compiled = self._compiled.get(spec.key)
            if compiled is not None:
                return compiled
            if not spec.schema:
                raise LookupError(f"{spec.key} has no schema file")
            path = self.schema_dir / spec.schema
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise LookupError(f"schema of {spec.key} not found: {path}") from None
            compiled = fastjsonschema.compile(schema)
            self._compiled[spec.key] = compiled
            return compiled

    def compile_all(self) -> int:
        """Compile the schema of every declaration now; returns how many are compiled."""
        for spec in catalogue.all_specs():
            if spec.key not in self._compiled:
                self._compile(spec)
        return len(self._compiled)

    # -- checking ------------------------------------------------------------

    def validate(self, spec: MessageSpec, body: Mapping[str, Any]) -> None:
        """Raise ``InvalidMessage`` (reason ``schema``) unless ``body`` is a valid ``spec`` message."""
        compiled = self._compiled.get(spec.key) or self._compile(spec)
        try:
            compiled(body)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidMessage(f"{spec.key}: {_describe(exc)}", reason="schema") from None

    def identify(self, body: Mapping[str, Any]) -> MessageSpec:
        return identify(body)

    def parse(self, body: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None,
              routing_key: str = "") -> Message:
        """Identify, validate and wrap an incoming body."""
        spec = identify(body)
        self.validate(spec, body)
        return Message(spec, body, headers=headers, routing_key=routing_key)


def _describe(exc: fastjsonschema.JsonSchemaValueException) -> str:
    """``field 'Tones[0].Frequencies' must be array`` rather than fastjsonschema's ``data.Tones[0]...``."""
    path = ""
    for part in (exc.path or [])[1:]:
        path += f"[{part}]" if str(part).isdigit() else (f".{part}" if path else str(part))
    if exc.rule == "required":
        missing = [k for k in (exc.rule_definition or ()) if not isinstance(exc.value, Mapping) or k not in exc.value]
        where = f" in {path!r}" if path else ""
        return f"missing required field(s){where}: {', '.join(missing)}"
    message = exc.message
    if message.startswith(exc.name or "\0"):
        message = message[len(exc.name):].strip()
    if exc.rule in ("const", "enum"):
        message = f"{message} (got {exc.value!r:.80})"
    return f"field {path!r} {message}" if path else message
