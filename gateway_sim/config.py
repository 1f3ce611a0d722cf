"""The simulator's knobs, in one frozen object.

Two kinds of time:

* *simulated* time -- how long media plays, how long the caller speaks, a
  ``sleep``'s ``Time``, a record's ``Time-Limit``/``Silence-Hits``.  These are
  what the events report (``Length``, ...) and are multiplied by
  ``time_scale`` before the simulator actually waits (``time_scale=0.01`` plays
  a 1.5 s prompt in 15 ms);
* *real* time -- the route_resp wait, the post-hangup linger, the upload
  timeout and the caller's maximum call duration.  These are protocol timers
  other participants rely on and are never scaled.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass, field, replace
from typing import Mapping

DEFAULT_ROUTE_TIMEOUT = 2.75      # bus.md 3.1: Fetch-Timeout minus 750 ms, in seconds
DEFAULT_POST_HANGUP_LINGER = 2.0  # bus.md 4.1.3: accept commands 2 s after the last post-hangup one


def default_node() -> str:
    """A node name of our own: ``freeswitch-sim-<6 hex>@<host>``, unique per gateway instance."""
    return f"freeswitch-sim-{secrets.token_hex(3)}@{socket.gethostname().split('.')[0]}"


@dataclass(frozen=True)
class GatewayConfig:
    # Switch-Nodename of every route_req, Media-Node of usurp_control, Ecallmgr-Node CCV,
    # Node of every event, and the word of the switch.command.<node> binding (bus.md 8.7).
    node: str = field(default_factory=default_node)
    hostname: str = field(default_factory=lambda: socket.gethostname())
    # real seconds to wait for route_resps (bus.md 3.1, first-non-deferred rule)
    route_timeout: float = DEFAULT_ROUTE_TIMEOUT
    # simulated seconds -> real seconds
    time_scale: float = 1.0
    # simulated durations of media (seconds)
    prompt_seconds: float = 1.5          # play of a prompt or any file
    tts_seconds: float = 1.5
    say_seconds: float = 1.0
    # per media overrides: prompt id ("vm-enter_pass"), media name or "tts:<text>" -> seconds
    media_seconds: Mapping[str, float] = field(default_factory=dict)
    # prompt ids / media names that do not exist: they complete at once with FILE NOT FOUND (bus.md 5.1)
    missing_media: frozenset[str] = frozenset()
    # real seconds to wait for the reply to a media_req (media.md 2.2: ecallmgr's 2000 ms)
    media_timeout: float = 2.0
    # real seconds for one GET of a Stream-URL or an http(s):// Media-Name
    media_http_timeout: float = 10.0
    # real seconds a fetched media name is played again without media_req or GET, as a real
    # gateway caches it (ecallmgr 3600 s, media.md 2.3); 0 = no cache, every play proves the path
    media_cache_seconds: float = 0.0
    # keep the bytes of every fetched media in the call's result (to write what the caller heard)
    keep_audio: bool = False
    # simulated seconds between two keys a scripted caller types
    dtmf_gap: float = 0.15
    # DTMF-Duration reported on DTMF events (ms)
    dtmf_duration_ms: int = 120
    # real seconds the control queue stays after CHANNEL_DESTROY (re-armed by each command)
    post_hangup_linger: float = DEFAULT_POST_HANGUP_LINGER
    # where recordings are written; None = a temporary directory of this gateway
    recording_dir: str | None = None
    # real seconds for one HTTP upload
    upload_timeout: float = 60.0
    # real seconds after which a scripted caller hangs up when its script sets no limit
    max_call_seconds: float = 120.0
    # sample rate of the WAV files written by ``record``
    sample_rate: int = 8000

    def scaled(self, simulated_seconds: float) -> float:
        """Real seconds to wait for ``simulated_seconds`` of simulated time."""
        return max(0.0, simulated_seconds) * self.time_scale

    def with_(self, **changes) -> "GatewayConfig":
        return replace(self, **changes)
