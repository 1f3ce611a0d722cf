"""Routing a dialled number to a callflow, for every service that routes or dials.

* ``numbers``  -- normalisation to E.164 and the reconcilable test (callflow.md 2.3);
* ``matcher``  -- callflow patterns compiled with RE2 and scored (callflow.md 2.5);
* ``cache``    -- what routing keeps per account between calls (callflow.md 2.7);
* ``lookup``   -- exact number, then patterns, then ``no_match`` (callflow.md 2.4).
"""

from services.routing.cache import RoutingCache
from services.routing.lookup import Found, Lookup
from services.routing.numbers import normalize

__all__ = ["Found", "Lookup", "RoutingCache", "normalize"]
