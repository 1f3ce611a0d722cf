"""voicemail_svc: KAZOO's voicemail callflow module as a remote callflow action (bus.md 3.8, voicemail.md)."""
