"""The box and what a call resolves from it: ``mailbox.py`` (CallInfo, Mailbox, Mailboxes, saving a box),
``profile.py`` (the frozen per-call Profile)."""
