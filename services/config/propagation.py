"""How long a config change takes to reach the services' caches (``kzvoice_config_propagation_seconds``).

KAZOO's messages carry no send time, so the announcer of a change stamps the
message it publishes -- the configuration service's ``doc_created``/``doc_edited``/``doc_deleted``
on ``configuration`` and the operator's ``sysconf.flush_req`` -- with an AMQP
header of ours, ``kzvoice-announced-us``: the wall-clock time of the publish in
microseconds since the Unix epoch.  The JSON body is untouched, so the message
stays exactly what KAZOO sends and validates under KAZOO's schemas and ours;
KAZOO's own consumers ignore the header.

A config client that drops its cached entries for such a message observes
``now - announced`` in the histogram, labelled with its service (``app``: the
bus's App-Name).  Changes announced by KAZOO itself carry no stamp and are not
observed.  Across hosts the figure includes the clocks' offset (NTP keeps it to
milliseconds); a negative difference is counted as 0.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

ANNOUNCED_HEADER = "kzvoice-announced-us"


def announced_now() -> dict[str, int]:
    """The AMQP headers that stamp a message being announced now."""
    return {ANNOUNCED_HEADER: time.time_ns() // 1000}


def age_seconds(headers: Mapping[str, Any], *, now_us: int | None = None) -> float | None:
    """Seconds since the announcement stamped in ``headers``; ``None`` when there is no stamp."""
    stamp = headers.get(ANNOUNCED_HEADER)
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        return None
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    return max(now_us - stamp, 0) / 1e6
