"""A command being carried out, and what it may do to its channel.

An ``Execution`` runs one command of the queue (``queue.CommandQueue``): ``start``,
then ``finish`` reports its completion (bus.md 4.2) and lets the queue move on.  What
it may use of the call is the ``Channel`` below, which the queue implements.  The
commands that take no time (noop, answer, set, hangup, invalid ones) and ``sleep``
are here; media in ``playback.py``, recording and uploads in ``recording.py``.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Protocol

from gateway_sim import media
from gateway_sim.channel.state import CallState
from gateway_sim.config import GatewayConfig
from gateway_sim.transcript import Transcript

ALL_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")

Uploader = Callable[..., Awaitable[media.UploadOutcome]]


def terminators_of(command: Mapping[str, Any]) -> frozenset[str]:
    """A media command's terminator keys; absent, ``""``, ``"none"`` or ``[]`` mean none (bus.md 8.1)."""
    raw = command.get("Terminators")
    if isinstance(raw, str):
        return frozenset(raw) & frozenset(ALL_KEYS) if raw not in ("", "none") else frozenset()
    if isinstance(raw, list):
        return frozenset(k for k in raw if k in ALL_KEYS)
    return frozenset()


def is_true(value: Any) -> bool:
    return value is True or value == "true"


def number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


@dataclass
class Pending:
    """A command waiting in Q (or running); ``error`` set when it failed validation."""

    command: dict[str, Any]
    error: str | None = None

    @property
    def app(self) -> str:
        name = self.command.get("Application-Name")
        return name if isinstance(name, str) else ""

    @property
    def msg_id(self) -> str:
        return str(self.command.get("Msg-ID", ""))


class Channel(Protocol):
    """What a running command may use of its call (``queue.CommandQueue`` is the one)."""

    state: CallState
    config: GatewayConfig
    transcript: Transcript
    recordings: media.Recordings
    uploader: Uploader

    def emit_event(self, name: str, **fields: Any) -> dict[str, Any]: ...

    def complete(self, execution: "Execution", **fields: Any) -> None: ...

    def dialplan_error(self, pending: "Pending", message: str, *, kind: str) -> None: ...

    def signal(self, kind: str, data: Any) -> None: ...

    def finished(self, execution: "Execution") -> None: ...

    def answer(self) -> None: ...

    def set_vars(self, command: Mapping[str, Any]) -> None: ...

    def hangup(self, cause: str = "NORMAL_CLEARING", *, by: str = "caller",
               origin: "Execution | None" = None) -> None: ...

    def drop_group(self, group: str) -> None: ...

    def recording_done(self, info: media.RecordingInfo) -> None: ...

    def upload_started(self) -> None: ...

    def upload_finished(self) -> None: ...


class Execution:
    """One command being carried out."""

    breakable = False      # stopped by flush and break (bus.md 8.2)
    is_media = False       # stopped by playstop

    def __init__(self, channel: Channel, pending: Pending) -> None:
        self.channel = channel
        self.pending = pending
        self.command = pending.command
        self.app = pending.app
        self.done = False

    # -- lifecycle
    def start(self) -> None:
        raise NotImplementedError

    def stop(self, reason: str) -> None:
        """Interrupted by flush, break or playstop."""

    def on_digit(self, digit: str) -> None:
        """A key was pressed while this runs."""

    def on_hangup(self) -> bool:
        """The channel is gone; returns True when this command must get a DOWN error."""
        self._cancel()
        self.done = True
        return True

    def _cancel(self) -> None:
        pass

    def finish(self, event: bool = True, **fields: Any) -> None:
        """Report the completion (bus.md 4.2) and let the queue move on."""
        if self.done:
            return
        self.done = True
        self._cancel()
        if event:
            self.channel.complete(self, **fields)
        self.channel.finished(self)


class Immediate(Execution):
    """noop, answer, set, hangup, invalid commands: finished as soon as started."""

    def start(self) -> None:
        channel = self.channel
        app = self.app
        if self.pending.error is not None:
            channel.dialplan_error(self.pending, self.pending.error, kind="invalid")
            self.finish(event=False)
        elif app == "noop":
            self.finish(**{"Application-Response": self.pending.msg_id})
        elif app == "answer":
            channel.answer()
            self.finish()
        elif app == "set":
            channel.set_vars(self.command)
            self.finish(event=False)
        elif app == "hangup":
            self.done = True
            if is_true(self.command.get("Other-Leg-Only")):
                channel.transcript.add("command", "hangup of the other leg: there is none; ignored")
                channel.finished(self)
                return
            cause = self.command.get("Hangup-Cause") or "NORMAL_CLEARING"
            channel.hangup(str(cause), by="app", origin=self)
        else:  # a command nobody here knows how to run (a nested queue is expanded by the queue)
            channel.dialplan_error(self.pending, f"application {app!r} is not supported", kind="invalid")
            self.finish(event=False)


class Timed(Execution):
    """Something that takes (simulated) time: a timer plus its position."""

    breakable = True

    def __init__(self, channel: Channel, pending: Pending) -> None:
        super().__init__(channel, pending)
        self._handle: asyncio.TimerHandle | None = None
        self.total: float | None = 0.0     # simulated seconds; None = endless
        self.position = 0.0                # simulated seconds played before the current timer
        self._since = 0.0                  # loop time the current timer started

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._since = loop.time()
        if self.total is None:
            return
        remaining = max(0.0, self.total - self.position)
        self._handle = loop.call_later(self.channel.config.scaled(remaining), self._ended)

    def _cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def elapsed(self) -> float:
        """Simulated seconds played so far."""
        if self.done:
            return self.position
        scale = self.channel.config.time_scale
        real = asyncio.get_running_loop().time() - self._since
        return self.position + (real / scale if scale > 0 else 0.0)

    def _ended(self) -> None:
        self._handle = None
        self.finish(**self.natural_end())

    def natural_end(self) -> dict[str, Any]:
        return {}


class Sleep(Timed):
    def start(self) -> None:
        self.total = number(self.command.get("Time"), 50.0) / 1000.0
        self._arm()

    def stop(self, reason: str) -> None:
        self.finish()
