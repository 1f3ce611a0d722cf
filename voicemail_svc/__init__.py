"""voicemail_svc: KAZOO's voicemail callflow module as a remote callflow action (bus.md 3.8, voicemail.md).

The rooms (docs/voicemail.md has the map and what each may import): ``app.py``
(wiring, the action table), ``deps.py``, ``listener.py``, ``call_control.py``,
``prompts.py``, ``boxes/``, ``storage/``, ``notify/``, ``compose/``, ``check/``.
"""
