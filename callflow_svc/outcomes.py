"""How an action ends (callflow.md 3.4): actions return one of these; only the executor moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

DEFAULT_CHILD = "_"


@dataclass(frozen=True)
class Continue:
    """Go to child ``key``, else to ``_``, else stop."""

    key: str = DEFAULT_CHILD


@dataclass(frozen=True)
class Branch:
    """Run ``flow``; when it ends, come back to this node's ``_`` child (return stack)."""

    flow: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContinueWithFlow:
    """Run ``flow`` in place of the rest of the current flow (no return point)."""

    flow: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stop:
    """Return to the stacked flow if any; else end, hanging up (with ``cause`` when given)."""

    cause: str | None = None


@dataclass(frozen=True)
class HardStop:
    """End now, hanging up unless the channel is gone."""


@dataclass(frozen=True)
class Transfer:
    """The call was transferred: end without hangup."""


@dataclass(frozen=True)
class Usurped:
    """Another controller took the call: end without hangup."""


Outcome = Continue | Branch | ContinueWithFlow | Stop | HardStop | Transfer | Usurped
