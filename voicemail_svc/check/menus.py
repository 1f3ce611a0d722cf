"""Audio and digit helpers shared by the check menus (voicemail.md 0.4, 5.5, 10.1).

* ``count_announcement`` is the table of 5.5;
* ``ask`` queues audio behind a marker and collects digits over it (the
  ``collect`` primitive of 0.4), with the box profile's timers.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from voicemail_svc.boxes.profile import Profile
from voicemail_svc.call_control import ALL_KEYS, CallControl
from voicemail_svc.prompts import Media, say_item


def count_announcement(call: CallControl, new: int, saved: int) -> list[Media]:
    """5.5: what the caller hears before the main menu, for ``new`` / ``saved`` messages."""
    p = call.prompt
    if new == 0 and saved == 0:
        return [p("vm-no_messages")]
    out: list[Media] = [p("vm-you_have")]
    if new:
        out.append(say_item(call, new, "messages"))
        if not saved:
            out.append(p("vm-new_message" if new == 1 else "vm-new_messages"))
            return out
        out.append(p("vm-new_and"))
    out.append(say_item(call, saved, "messages"))
    out.append(p("vm-saved_message" if saved == 1 else "vm-saved_messages"))
    return out


async def ask(call: CallControl, media: Sequence[Media], *, profile: Profile, max_digits: int = 1,
              terminators: Iterable[str] = ("#",), flush_on_digit: bool = True,
              play_terminators: Sequence[str] = ALL_KEYS) -> str:
    """Queue ``media`` and collect up to ``max_digits`` over it (0.4 collect), with ``profile``'s timers."""
    marker = await call.queue_media(list(media), terminators=play_terminators)
    return await call.collect(max_digits, timeout_ms=profile.collect_timeout_ms,
                              interdigit_ms=profile.interdigit_ms, terminators=tuple(terminators),
                              marker=marker, flush_on_digit=flush_on_digit)
