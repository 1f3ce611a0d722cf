"""Change events on ``configuration`` after a document is written (config.md 3.5, 4.6; bus.md 3.11).

Every service that writes a document others cache announces it here: the config
service after each persisted configuration write, the voicemail service after it
stores a media document (a greeting recorded by phone), so that caches -- a
gateway's Stream-URL, a media responder's answer, a config client's value -- drop it.

The payload is what KAZOO's data layer sends (``App-Name`` ``datamgr``,
``Origin-Cache`` ``kazoo_data_cache``) with the two dates the right way round
(ours); the time of the announcement travels in an AMQP header of ours beside
it (services.config.propagation).  The routing key ``doc_<action>.<db>.<type>.<encoded id>`` is built by
the catalogue's declaration from ``Database``, ``Type`` and ``ID``.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from services.config.propagation import announced_now
from services.messages import catalogue

log = logging.getLogger(__name__)

DATAMGR_APP = "datamgr"
DATAMGR_VERSION = "4.0.0"
ORIGIN_CACHE = "kazoo_data_cache"


def doc_update_fields(action: str, *, database: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The body of a ``doc_<action>`` event for ``doc`` as saved in ``database`` (KAZOO's written form)."""
    fields: dict[str, Any] = {
        "App-Name": DATAMGR_APP,
        "App-Version": DATAMGR_VERSION,
        "ID": doc["_id"],
        "Database": database,
        "Type": doc.get("pvt_type"),
        "Rev": doc.get("_rev"),
        "Is-Soft-Deleted": False,
        "Origin-Cache": ORIGIN_CACHE,
    }
    if isinstance(doc.get("pvt_created"), int):
        fields["Date-Created"] = doc["pvt_created"]
    if isinstance(doc.get("pvt_modified"), int):
        fields["Date-Modified"] = doc["pvt_modified"]
    if doc.get("pvt_type") != "config" and isinstance(doc.get("pvt_account_id"), str):
        fields["Account-ID"] = doc["pvt_account_id"]
    return fields


class Announcer:
    """Publishes doc_created / doc_edited / doc_deleted on the service's bus connection."""

    def __init__(self, bus) -> None:
        self._bus = bus

    async def doc_changed(self, action: str, *, database: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        spec = catalogue.DOC_CHANGES[f"doc_{action}"]
        # stamped (an AMQP header, not the body) so each config client can time the change's arrival
        body = await self._bus.publish(spec, doc_update_fields(action, database=database, doc=doc),
                                       headers=announced_now())
        log.debug("announced doc_%s %s/%s rev %s", action, database, doc["_id"], doc.get("_rev"))
        return body
