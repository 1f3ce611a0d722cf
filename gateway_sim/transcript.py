"""What happened on one simulated call, one line per step.

Every step has a kind:

========== ==========================================================
route      route_req sent, route_resps received, the winner, route_win
command    a call command received (with its Insert-At)
media      where a play's bytes came from: media_req + GET, a URL, a local recording;
           the byte count, or why it failed (FILE NOT FOUND)
prompt     a media started playing (prompt id, tts text, say text, tones)
digits     keys the caller pressed
record     a recording started or stopped
event      a call event the gateway published
error      a dialplan error the gateway published
upload     a storage upload (send_http, store, store_vm) and its outcome
caller     a decision of the scripted caller (hang up, speak, ...)
result     how the call ended
========== ==========================================================

``str(transcript)`` is the printable form, ``transcript.to_json()`` a list of
``{"t": seconds since the call started, "kind": ..., "text": ..., "data": {...}}``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

KINDS = ("route", "command", "media", "prompt", "digits", "record", "event", "error", "upload", "caller", "result")


@dataclass(frozen=True)
class Step:
    t: float          # seconds since the call started (real time)
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"t": round(self.t, 4), "kind": self.kind, "text": self.text}
        if self.data:
            entry["data"] = self.data
        return entry

    def __str__(self) -> str:
        return f"{self.t:9.3f}s  {self.kind:<8} {self.text}"


class Transcript:
    def __init__(self, call_id: str = "", *, started: float | None = None) -> None:
        self.call_id = call_id
        self.started = time.monotonic() if started is None else started
        self.steps: list[Step] = []

    def add(self, kind: str, text: str, **data: Any) -> Step:
        if kind not in KINDS:
            raise ValueError(f"unknown transcript kind {kind!r}")
        step = Step(time.monotonic() - self.started, kind, text, {k: v for k, v in data.items() if v is not None})
        self.steps.append(step)
        return step

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def of_kind(self, kind: str) -> list[Step]:
        return [s for s in self.steps if s.kind == kind]

    def texts(self, kind: str | None = None) -> list[str]:
        return [s.text for s in self.steps if kind is None or s.kind == kind]

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.steps]

    def dumps(self) -> str:
        return json.dumps({"call_id": self.call_id, "steps": self.to_json()}, indent=2, ensure_ascii=False)

    def __str__(self) -> str:
        head = f"call {self.call_id}" if self.call_id else "call"
        return "\n".join([head] + [str(s) for s in self.steps])
