"""Scripted callers: what the person on the phone does, driven by what they hear.

A ``Script`` is a list of rules.  Each rule waits for a trigger and then acts:

===================== ===================================================================
trigger               fires when
===================== ===================================================================
``on_prompt(name)``   a media named ``name`` has played to its end (``barge=True``: when it
                      starts).  ``name`` is a prompt id (``vm-enter_pass``), ``tts:<text>``,
                      ``say:<text>`` or ``tones``; shell-style wildcards work (``vm-*``).
``on_record_start()`` a ``record`` began: the caller speaks ``speak`` seconds, then presses
                      ``press`` (the first key usually ends the recording), hangs up
                      (``hangup``) or falls silent (neither: Silence-Hits ends it).
``on_answer()``       the channel was answered.
``on_start()``        the call was parked and handed to the winning app (after route_win).
===================== ===================================================================

Actions: ``press`` (keys typed one after the other, ``dtmf_gap`` apart),
``hangup``, both (keys first), after ``after`` seconds.  Times are simulated
seconds (scaled by ``time_scale``), except ``max_duration``: after that many
real seconds the caller hangs up whatever happens (default: the gateway's
``max_call_seconds``).

A rule fires ``times`` times (default 1; ``None`` = every time).  Rules are
tried in the order they were added and the first one that still has turns
left fires, so ``on_prompt("vm-enter_pass", press="1111#")`` followed by
``on_prompt("vm-enter_pass", press="1234#")`` types a wrong PIN, then the
right one.

JSON form (``Script.from_json`` / ``kzvoice call --script``)::

    {"max_duration": 60,
     "steps": [
       {"on": "prompt", "name": "vm-enter_pass", "press": "1234#"},
       {"on": "record_start", "speak": 3.0, "press": "#"},
       {"on": "prompt", "name": "vm-goodbye", "hangup": true}]}

A bare list of steps is accepted too.  Keys of a step: ``on`` (``prompt``,
``record_start``, ``answer``, ``start``), ``name`` (prompt only), ``press``,
``hangup``, ``speak`` (record_start only), ``after``, ``barge`` (prompt only),
``times`` (a number or null).
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from gateway_sim.channel import ALL_KEYS, CommandQueue, Media, Record

log = logging.getLogger(__name__)

TRIGGERS = ("prompt", "record_start", "answer", "start")
_DIGITS = frozenset(ALL_KEYS) | frozenset("ABCD")


class ScriptError(ValueError):
    """A script (Python or JSON) that cannot be run."""


@dataclass
class Rule:
    on: str
    name: str | None = None
    press: str = ""
    hangup: bool = False
    speak: float | None = None
    after: float = 0.0
    barge: bool = False
    times: int | None = 1
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.on not in TRIGGERS:
            raise ScriptError(f"unknown trigger {self.on!r}; expected one of {', '.join(TRIGGERS)}")
        if self.on == "prompt" and not self.name:
            raise ScriptError("a prompt step needs a name")
        if self.on != "prompt" and (self.name is not None or self.barge):
            raise ScriptError(f"'name' and 'barge' belong to prompt steps, not {self.on}")
        if self.speak is not None and self.on != "record_start":
            raise ScriptError("'speak' belongs to record_start steps")
        bad = [k for k in self.press if k not in _DIGITS]
        if bad:
            raise ScriptError(f"cannot press {''.join(bad)!r}: keys are 0-9 * # A-D")
        if self.after < 0 or (self.speak is not None and self.speak < 0):
            raise ScriptError("'after' and 'speak' cannot be negative")
        if self.times is not None and self.times < 1:
            raise ScriptError("'times' is a positive number or null (every time)")

    @property
    def available(self) -> bool:
        return self.times is None or self.fired < self.times

    def matches(self, label: str) -> bool:
        assert self.name is not None
        return fnmatch.fnmatchcase(label, self.name)

    def to_json(self) -> dict[str, Any]:
        step: dict[str, Any] = {"on": self.on}
        if self.name is not None:
            step["name"] = self.name
        if self.press:
            step["press"] = self.press
        if self.hangup:
            step["hangup"] = True
        if self.speak is not None:
            step["speak"] = self.speak
        if self.after:
            step["after"] = self.after
        if self.barge:
            step["barge"] = True
        if self.times != 1:
            step["times"] = self.times
        return step


_STEP_KEYS = frozenset(("on", "name", "press", "hangup", "speak", "after", "barge", "times"))


def _typed(step: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = step.get(key, default)
    if value is default:
        return value
    if not isinstance(value, kind):
        raise ScriptError(f"{key!r} must be a {'boolean' if kind is bool else 'string'}, not {value!r}")
    return value


def _seconds(step: dict[str, Any], key: str, default: float | None) -> float | None:
    value = step.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScriptError(f"{key!r} must be a number of seconds, not {value!r}")
    return float(value)


def _times(step: dict[str, Any]) -> int | None:
    if "times" not in step:
        return 1
    value = step["times"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScriptError(f"'times' must be a whole number or null, not {value!r}")
    return value


class Script:
    """A caller's behaviour; build it fluently or load it from JSON."""

    def __init__(self, rules: Iterable[Rule] = (), *, max_duration: float | None = None) -> None:
        self.rules = list(rules)
        self.max_duration = max_duration

    # -- building
    def on_prompt(self, name: str, *, press: str = "", hangup: bool = False, after: float = 0.0,
                  barge: bool = False, times: int | None = 1) -> "Script":
        self.rules.append(Rule("prompt", name=name, press=press, hangup=hangup, after=after, barge=barge,
                               times=times))
        return self

    def on_record_start(self, *, speak: float = 0.0, press: str = "", hangup: bool = False, after: float = 0.0,
                        times: int | None = 1) -> "Script":
        self.rules.append(Rule("record_start", speak=speak, press=press, hangup=hangup, after=after, times=times))
        return self

    def on_answer(self, *, press: str = "", hangup: bool = False, after: float = 0.0) -> "Script":
        self.rules.append(Rule("answer", press=press, hangup=hangup, after=after))
        return self

    def on_start(self, *, press: str = "", hangup: bool = False, after: float = 0.0) -> "Script":
        self.rules.append(Rule("start", press=press, hangup=hangup, after=after))
        return self

    def hang_up_after(self, seconds: float) -> "Script":
        self.max_duration = seconds
        return self

    # -- JSON
    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"steps": [r.to_json() for r in self.rules]}
        if self.max_duration is not None:
            data["max_duration"] = self.max_duration
        return data

    @classmethod
    def from_json(cls, data: Any) -> "Script":
        if isinstance(data, list):
            data = {"steps": data}
        if not isinstance(data, dict):
            raise ScriptError("a script is a JSON object with 'steps' (or a list of steps)")
        unknown = set(data) - {"steps", "max_duration"}
        if unknown:
            raise ScriptError(f"unknown script key(s): {', '.join(sorted(unknown))}")
        steps = data.get("steps", [])
        if not isinstance(steps, list):
            raise ScriptError("'steps' must be a list")
        rules = []
        for index, step in enumerate(steps, 1):
            if not isinstance(step, dict):
                raise ScriptError(f"step {index}: a step is an object")
            unknown = set(step) - _STEP_KEYS
            if unknown:
                raise ScriptError(f"step {index}: unknown key(s): {', '.join(sorted(unknown))}")
            try:
                rules.append(Rule(
                    on=_typed(step, "on", str, ""), name=_typed(step, "name", str, None),
                    press=_typed(step, "press", str, ""), hangup=_typed(step, "hangup", bool, False),
                    speak=_seconds(step, "speak", None), after=_seconds(step, "after", 0.0),
                    barge=_typed(step, "barge", bool, False), times=_times(step)))
            except ScriptError as exc:
                raise ScriptError(f"step {index}: {exc}") from None
        max_duration = data.get("max_duration")
        if max_duration is not None:
            try:
                max_duration = float(max_duration)
            except (TypeError, ValueError):
                raise ScriptError("'max_duration' must be a number of seconds") from None
            if max_duration <= 0:
                raise ScriptError("'max_duration' must be positive")
        return cls(rules, max_duration=max_duration)

    @classmethod
    def loads(cls, text: str) -> "Script":
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ScriptError(f"not JSON: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> "Script":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScriptError(f"cannot read {path}: {exc.strerror or exc}") from None
        return cls.loads(text)

    @classmethod
    def parse(cls, value: str) -> "Script":
        """``--script``: inline JSON (starts with ``{`` or ``[``) or a file name."""
        stripped = value.strip()
        if stripped.startswith(("{", "[")):
            return cls.loads(stripped)
        return cls.load(stripped)

    def __repr__(self) -> str:
        return f"Script({json.dumps(self.to_json())})"


class Caller:
    """Runs one script against one call's command queue, reacting to what the channel does."""

    def __init__(self, script: Script | None, control: CommandQueue, *, max_duration: float) -> None:
        self.script = script or Script()
        # each call gets its own turn counters
        self.rules = [Rule(**{**r.__dict__, "fired": 0}) for r in self.script.rules]
        self.control = control
        self.config = control.config
        self._tasks: set[asyncio.Task] = set()
        self._loop = asyncio.get_running_loop()
        limit = self.script.max_duration if self.script.max_duration is not None else max_duration
        self._limit = self._loop.call_later(limit, self._max_duration_reached, limit)
        control.listeners.append(self._on_signal)

    def _first(self, on: str, label: str | None = None, *, barge: bool | None = None) -> Rule | None:
        for rule in self.rules:
            if rule.on != on or not rule.available:
                continue
            if on == "prompt":
                if rule.barge != barge or not rule.matches(label or ""):
                    continue
            return rule
        return None

    def _on_signal(self, kind: str, data: Any) -> None:
        if kind == "media_start" and isinstance(data, Media):
            rule = self._first("prompt", data.label, barge=True)
            if rule:
                self._fire(rule, f"heard the start of {data.label}")
        elif kind == "media_end":
            execution, interrupted, _reason = data
            if not interrupted:
                rule = self._first("prompt", execution.label, barge=False)
                if rule:
                    self._fire(rule, f"heard {execution.label}")
        elif kind == "record_start" and isinstance(data, Record):
            rule = self._first("record_start")
            if rule:
                self._fire(rule, "recording started", record=data)
        elif kind == "answer":
            rule = self._first("answer")
            if rule:
                self._fire(rule, "call answered")
        elif kind == "destroy":
            self.stop()

    def started(self) -> None:
        """The call was handed to the app (route_win sent)."""
        rule = self._first("start")
        if rule:
            self._fire(rule, "call started")

    def _fire(self, rule: Rule, why: str, *, record: Record | None = None) -> None:
        rule.fired += 1
        task = self._loop.create_task(self._act(rule, why, record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _act(self, rule: Rule, why: str, record: Record | None) -> None:
        control = self.control
        scaled = self.config.scaled
        if rule.after:
            await asyncio.sleep(scaled(rule.after))
        if control.state.destroyed:
            return
        if record is not None:
            speak = rule.speak or 0.0
            what = f"speaks {speak:g} s"
            if rule.press:
                what += f", then presses {rule.press}"
            elif rule.hangup:
                what += ", then hangs up"
            else:
                what += ", then stays silent"
            control.transcript.add("caller", f"{why}: caller {what}")
            done = asyncio.Event()
            keys = rule.press

            def then(rec: Record) -> None:
                # runs when the speech ends, inside the recorder, so the recording's length is exact
                if keys:
                    control.press(keys[0])
                elif rule.hangup:
                    control.hangup("NORMAL_CLEARING", by="caller")
                done.set()

            if rule.press or rule.hangup:
                record.speak(speak, then)
                await done.wait()
                if keys[1:]:
                    await self._press(keys[1:])
                if rule.press and rule.hangup:
                    control.hangup("NORMAL_CLEARING", by="caller")
            else:
                record.speak(speak)
            return
        what = []
        if rule.press:
            what.append(f"presses {rule.press}")
        if rule.hangup:
            what.append("hangs up")
        control.transcript.add("caller", f"{why}: caller {' and '.join(what) or 'does nothing'}")
        if rule.press:
            await self._press(rule.press)
        if rule.hangup and not control.state.destroyed:
            control.hangup("NORMAL_CLEARING", by="caller")

    async def _press(self, keys: str) -> None:
        gap = self.config.scaled(self.config.dtmf_gap)
        for index, key in enumerate(keys):
            if self.control.state.destroyed:
                return
            if index:
                await asyncio.sleep(gap)
            self.control.press(key)

    def _max_duration_reached(self, limit: float) -> None:
        if not self.control.state.destroyed:
            self.control.transcript.add("caller", f"maximum call duration ({limit:g} s) reached: caller hangs up")
            self.control.hangup("NORMAL_CLEARING", by="max_duration")

    def stop(self) -> None:
        self._limit.cancel()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
