"""What the simulated channel knows about itself, and the fields every call event carries (bus.md 3.5)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from services.store.layout import unix_to_gregorian

# what the events say published them (App-Name, App-Version)
EVENT_APP_NAME = "freeswitch"
EVENT_APP_VERSION = "1.0"

# SIP response of common hangup causes (Hangup-Code of CHANNEL_DESTROY); others are left out
HANGUP_CODES = {"NORMAL_CLEARING": "sip:200", "USER_BUSY": "sip:486", "CALL_REJECTED": "sip:603",
                "NO_ANSWER": "sip:480", "NO_USER_RESPONSE": "sip:408", "UNALLOCATED_NUMBER": "sip:404",
                "NORMAL_TEMPORARY_FAILURE": "sip:503", "ORIGINATOR_CANCEL": "sip:487"}

_last_stamp = 0


def event_msg_id() -> str:
    """KAZOO's event Msg-ID is the event's microsecond timestamp; ours is made unique per process."""
    global _last_stamp
    stamp = max(time.time_ns() // 1000, _last_stamp + 1)
    _last_stamp = stamp
    return str(stamp)


@dataclass
class CallState:
    """What the simulated channel knows about itself."""

    call_id: str
    fetch_id: str
    ccvs: dict[str, Any] = field(default_factory=dict)
    cavs: dict[str, Any] = field(default_factory=dict)
    caller_id_name: str = ""
    caller_id_number: str = ""
    from_: str = ""
    to: str = ""
    request: str = ""
    direction: str = "inbound"
    answered: bool = False
    destroyed: bool = False
    created: float = field(default_factory=time.monotonic)
    answered_at: float | None = None
    hangup_cause: str | None = None
    hung_up_by: str | None = None
    recordings: list[str] = field(default_factory=list)

    def common(self) -> dict[str, Any]:
        """Fields every call event carries (bus.md 3.5)."""
        if self.destroyed:
            state, call_state, answer_state = "DESTROY", "HANGUP", "hangup"
        elif self.answered:
            state, call_state, answer_state = "EXECUTE", "ACTIVE", "answered"
        else:
            state, call_state, answer_state = "EXECUTE", "RINGING", "ringing"
        fields: dict[str, Any] = {
            "Call-ID": self.call_id,
            "Timestamp": unix_to_gregorian(time.time()),
            "Custom-Channel-Vars": dict(self.ccvs),
            "Call-Direction": self.direction,
            "Caller-ID-Name": self.caller_id_name,
            "Caller-ID-Number": self.caller_id_number,
            "Channel-State": state,
            "Channel-Call-State": call_state,
            "Channel-Answer-State": answer_state,
            "From": self.from_,
            "To": self.to,
            "Request": self.request,
        }
        if self.cavs:
            fields["Custom-Application-Vars"] = dict(self.cavs)
        return fields
