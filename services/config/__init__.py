"""The config client other services use (typed getters, cache, flush on doc_update).

``ConfigClient`` (client.py) reads through config_svc on the bus and caches;
``paths`` and ``coerce`` hold the JSON-path and KAZOO-coercion helpers that
config_svc and the client share; ``commands`` is ``kzvoice config``.
"""

from services.config.client import ConfigClient
from services.config.paths import MISSING

__all__ = ["ConfigClient", "MISSING"]
