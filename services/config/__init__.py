"""The config client other services use (typed getters, cache, flush on doc_update).

``ConfigClient`` (client.py) reads through the configuration service (sysconf)
on the bus and caches; ``keys`` reads the keys whose rule combines several
lookups; ``paths`` and ``coerce`` hold the JSON-path and KAZOO-coercion helpers
that the configuration service, its operator tool and the client share.
"""

from services.config.client import ConfigClient
from services.config.paths import MISSING

__all__ = ["ConfigClient", "MISSING"]
