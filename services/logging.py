"""Logging with the call's identity on every line.

``call_id`` and ``msg_id`` are context variables: set them once when a call or
message starts being handled (``bind_call``) and every log line written from
that task and the tasks it spawns carries them, in text or JSON form.

A task or timer inherits the context of the code that starts it, so work that
outlives the call or message at hand -- a sweep serving every pending call, a
flow started from its route_win, a retry loop -- is started in a context of its
own (``call_context``) and binds the call each line is about.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from typing import Iterator

call_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_id", default=None)
msg_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("msg_id", default=None)


@contextlib.contextmanager
def bind_call(call_id: str | None = None, msg_id: str | None = None) -> Iterator[None]:
    """Attach a Call-ID (and Msg-ID) to every log line written inside the block."""
    tokens = []
    if call_id is not None:
        tokens.append((call_id_var, call_id_var.set(call_id)))
    if msg_id is not None:
        tokens.append((msg_id_var, msg_id_var.set(msg_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def call_context(call_id: str | None = None, msg_id: str | None = None) -> contextvars.Context:
    """A copy of the current context whose log lines name ``call_id`` and ``msg_id`` (none by
    default), for ``create_task(..., context=)`` and ``call_later(..., context=)``."""
    context = contextvars.copy_context()
    context.run(call_id_var.set, call_id)
    context.run(msg_id_var.set, msg_id)
    return context


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = getattr(record, "call_id", None) or call_id_var.get()
        record.msg_id = getattr(record, "msg_id", None) or msg_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ident = ""
        if record.call_id:
            ident += f" call={record.call_id}"
        if record.msg_id:
            ident += f" msg={record.msg_id}"
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname:<7} {record.name}{ident}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.call_id:
            entry["call_id"] = record.call_id
        if record.msg_id:
            entry["msg_id"] = record.msg_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "info", fmt: str = "text", stream=None) -> None:
    """Install one handler on the root logger; safe to call more than once."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    _remove_ours(root)
    handler._kzvoice = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aio-pika and aiormq are chatty about connection internals (a lost connection is a warning
    # with a traceback there); services.bus.amqp logs each loss and reconnect once, plainly
    for noisy in ("aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(max(logging.ERROR, root.level))


def quiet_for_cli(level: str) -> None:
    """For command-line tools whose output is the answer: library log lines
    would break the one-line error rule, so they show only at ``debug``."""
    if level == "debug":
        configure("debug", "text")
    else:
        root = logging.getLogger()
        _remove_ours(root)          # a handler an earlier configure() in this process installed
        root.addHandler(logging.NullHandler())


def _remove_ours(root: logging.Logger) -> None:
    for old in list(root.handlers):
        if getattr(old, "_kzvoice", False):
            root.removeHandler(old)
