"""A voicemail call with a scripted caller and no broker: ``FakeCall`` implements ``CallControl``.

The caller's part is a ``Caller`` script, built like the gateway simulator's::

    caller = (Caller()
              .on_prompt("vm-enter_pass", press="1234#")    # keys pressed once that prompt has played
              .on_record(length_ms=4000, press="#")         # the next recording: 4 s, ended with "#"
              .on_prompt("vm-main_menu", hangup=True))      # hangs up once that prompt has played
    call = FakeCall(caller)

How the call behaves (the rules of bus.md 4.3 and 4.4, without time):

* every command is kept in ``call.commands`` (``{"Application-Name": ..., ...}``);
  what the caller heard is ``call.heard``: prompt ids (``vm-enter_pass``),
  ``say:<text>``, ``tones``, or a media name (``/<account>/<media id>``);
  media still queued when the session ends counts as heard;
* queued media is heard when the session next waits (``collect``, a blocking
  command); blocking media (``play``, ``play_many``, ``beep``) at once;
* after each item is heard, the first rule for that prompt that has not fired
  yet fires: its keys go to the caller's typed-ahead digits, or the caller
  hangs up (the wait raises ``Hangup``, and so does every later command);
* a key stops what plays: during a collection that flushes on the first digit
  the rest of the queue is not heard; keys pressed during a blocking command
  are used up by it, as on the gateway;
* ``collect`` takes the typed-ahead digits up to ``max_digits`` or a
  terminator, and returns what it has when they run out (the timeout);
* ``record`` takes the next ``on_record`` rule (a session recording while the
  script has none left fails the test loudly);
* ``store_file`` calls ``uploader(file_name, url)`` when one is given
  (``failing_uploads=True``: raises ``StoreFailed`` as if every try failed).

A session that keeps waiting after the script ran out hears its menus time
out; ``max_commands`` stops one that would never end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence

from voicemail_svc.call_control import ALL_KEYS, CallControl, Hangup, RecordResult, StoreFailed

Uploader = Callable[[str, str], Awaitable[None]]


class ScriptError(AssertionError):
    """The session did something the caller's script does not cover."""


@dataclass
class Rule:
    kind: str                      # "prompt" | "record"
    prompt: str = ""
    press: str = ""
    hangup: bool = False
    length_ms: int = 0
    fired: bool = field(default=False, compare=False)


class Caller:
    """What the caller does; rules fire in the order given, each once."""

    def __init__(self, *, typed_ahead: str = "") -> None:
        self.rules: list[Rule] = []
        self.typed_ahead = typed_ahead

    def on_prompt(self, prompt: str, *, press: str = "", hangup: bool = False) -> "Caller":
        self.rules.append(Rule("prompt", prompt=prompt, press=press, hangup=hangup))
        return self

    def on_record(self, *, length_ms: int, press: str = "#", hangup: bool = False) -> "Caller":
        """The next recording lasts ``length_ms``; it ends with ``press`` (a terminator) or a hangup."""
        self.rules.append(Rule("record", press="" if hangup else press, hangup=hangup, length_ms=length_ms))
        return self

    def next_rule(self, kind: str, prompt: str = "") -> Rule | None:
        for rule in self.rules:
            if not rule.fired and rule.kind == kind and (kind != "prompt" or rule.prompt == prompt):
                return rule
        return None


def label_of(item: str | Mapping[str, Any]) -> str:
    """What the caller hears for one media item, as the gateway simulator names it."""
    if isinstance(item, Mapping):
        app = item.get("Application-Name")
        if app == "say":
            return f"say:{item.get('Say-Text')}"
        if app == "play":
            return label_of(str(item.get("Media-Name")))
        return str(app)
    if item.startswith("prompt://"):
        return item.split("/")[3]
    return item


class FakeCall(CallControl):
    def __init__(self, caller: Caller | None = None, *, account_id: str | None = "acc",
                 language: str = "en-us", uploader: Uploader | None = None, failing_uploads: bool = False,
                 max_commands: int = 2000) -> None:
        self.caller = caller or Caller()
        self.call_id = os.urandom(8).hex()
        self.account_id = account_id
        self.language = language
        self.uploader = uploader
        self.failing_uploads = failing_uploads
        self.max_commands = max_commands
        self.commands: list[dict[str, Any]] = []
        self._heard: list[str] = []
        self.digits = self.caller.typed_ahead
        self._queued: list[str | Mapping[str, Any]] = []
        self._gone = False

    # -- what the test looks at --------------------------------------------------------------

    @property
    def hung_up(self) -> bool:
        return self._gone

    @property
    def heard(self) -> list[str]:
        """What the caller heard, in order; media still queued plays out (nothing stopped it)."""
        return self._heard + [label_of(item) for item in self._queued]

    def names(self) -> list[str]:
        """The applications sent, in order."""
        return [c["Application-Name"] for c in self.commands]

    # -- the caller ------------------------------------------------------------------------------

    def _command(self, application: str, **fields: Any) -> None:
        if self._gone:
            raise Hangup(self.call_id)
        if len(self.commands) >= self.max_commands:
            raise ScriptError(f"more than {self.max_commands} commands: the session does not end")
        self.commands.append({"Application-Name": application, **fields})

    def _hear(self, items: Sequence[str | Mapping[str, Any]], *, keys_stop_the_rest: bool) -> str:
        """The caller hears ``items`` in order; returns the keys pressed meanwhile."""
        pressed = ""
        for item in items:
            label = label_of(item)
            self._heard.append(label)
            rule = self.caller.next_rule("prompt", label)
            if rule is None:
                continue
            rule.fired = True
            if rule.hangup:
                self._gone = True
                raise Hangup(self.call_id)
            pressed += rule.press
            if rule.press and keys_stop_the_rest:
                break
        return pressed

    def _play_queue(self, *, flush_on_digit: bool) -> None:
        queued, self._queued = self._queued, []
        self.digits += self._hear(queued, keys_stop_the_rest=flush_on_digit)

    def _play_blocking(self, items: Sequence[str | Mapping[str, Any]]) -> None:
        # the wait of a blocking command uses up the keys pressed during it (bus.md 4.3)
        self._play_queue(flush_on_digit=False)
        self._hear(items, keys_stop_the_rest=False)

    # -- CallControl ------------------------------------------------------------------------------

    async def answer(self) -> None:
        self._command("answer")

    async def play(self, media: str, *, terminators: Sequence[str] = ALL_KEYS) -> None:
        await self.play_many([media], terminators=terminators)

    async def play_many(self, media: Sequence[str | Mapping[str, Any]], *,
                        terminators: Sequence[str] = ALL_KEYS) -> None:
        self._command("queue", Commands=list(media), blocking=True)
        self._play_blocking(list(media))

    async def queue_media(self, media: Sequence[str | Mapping[str, Any]], *,
                          terminators: Sequence[str] = ALL_KEYS) -> str:
        self._command("queue", Commands=list(media))
        self._queued.extend(media)
        return os.urandom(16).hex()

    async def beep(self) -> None:
        self._command("tones")
        self._play_blocking([{"Application-Name": "tones"}])

    async def collect(self, max_digits: int, *, timeout_ms: int | None = None, interdigit_ms: int | None = None,
                      terminators: Iterable[str] = ("#",), marker: str | None = None,
                      flush_on_digit: bool = True) -> str:
        if self._gone:
            raise Hangup(self.call_id)
        self._play_queue(flush_on_digit=flush_on_digit)
        stops = frozenset(terminators)
        collected = ""
        if self.digits and flush_on_digit:
            self._command("noop", **{"Insert-At": "flush"})
        while self.digits:
            digit, self.digits = self.digits[0], self.digits[1:]
            if digit in stops:
                break
            collected += digit
            if len(collected) >= max_digits:
                break
        return collected

    async def record(self, media_name: str, *, time_limit_s: int = 300, terminators: Sequence[str] = ALL_KEYS,
                     silence_threshold: int = 200, silence_hits: int = 5) -> RecordResult:
        self._command("record", **{"Media-Name": media_name, "Time-Limit": str(time_limit_s)})
        self._play_queue(flush_on_digit=False)
        rule = self.caller.next_rule("record")
        if rule is None:
            raise ScriptError(f"the session records {media_name}, but the caller's script has no recording left")
        rule.fired = True
        if rule.hangup:
            self._gone = True
        return RecordResult(length_ms=rule.length_ms, terminator=rule.press[:1] or None, hangup=rule.hangup,
                            file_path=f"/tmp/{media_name}")

    async def flush(self) -> None:
        self._command("noop", **{"Insert-At": "flush"})
        self._queued.clear()

    async def playseek(self, direction: str, duration_ms: int) -> None:
        self._command("playseek", Direction=direction, Duration=int(duration_ms))

    async def store_file(self, file_name: str, url: str, *, method: str = "put") -> None:
        # a switch command, not a call command: it works after a hangup too (bus.md 3.12)
        self.commands.append({"Application-Name": "store_file", "File-Name": file_name, "Url": url})
        if self.failing_uploads:
            raise StoreFailed(f"storing {file_name} failed (the script says so)")
        if self.uploader is not None:
            await self.uploader(file_name, url)
