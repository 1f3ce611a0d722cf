"""Check: retrieve messages (voicemail.md 5).

``machine.py`` is the state machine (``run_check``); each sub-flow it enters
has a module of its own: ``login.py`` (box number and PIN, 5.2-5.3, with
``pin.py`` and ``lockout.py``), ``setup_wizard.py`` (5.4), ``menus.py`` (the
main menu's audio and digit helpers, 5.5), ``playback.py`` (5.6),
``callback.py`` (5.7), ``forward.py`` (5.8), ``greetings.py`` (5.9.2) and
``config_menu.py`` (5.9.1, 5.10).  ``env.py`` is what one check works with.
"""

from voicemail_svc.check.machine import run_check

__all__ = ["run_check"]
