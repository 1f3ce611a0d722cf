"""Message storage: ``messages.py`` (documents, listing, counts, folders), ``upload.py`` (the endpoint the
gateway uploads recordings to), ``spool.py`` (recordings the store refused, kept until stored)."""
