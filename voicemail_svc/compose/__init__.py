"""Compose: leave a message (voicemail.md 4).

``machine.py`` is the state machine (``run_compose``), ``greeting.py`` what the
caller hears before the beep (4.3), ``save.py`` storing the message (4.8).
"""

from voicemail_svc.compose.machine import run_compose

__all__ = ["run_compose"]
