"""What the world hears about a box: ``notifier.py`` (voicemail_new/saved/full/deleted, after-notify),
``mwi.py`` (message-waiting indication), ``mwi_query.py`` (MWI on request and after a restart)."""
