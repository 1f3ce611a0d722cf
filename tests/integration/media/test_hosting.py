"""voicemail_svc hosts the media core (media.md 6.1), on the real broker: the responder is part of
the service's readiness, ``KZ_MEDIA_RESPONDER=off`` leaves media_req to someone else while message
URLs still open, and a process running callflow alone has no responder."""

from __future__ import annotations

import asyncio
import socket
import time

from services.media.responder import QUEUE
from services.media.signer import Purpose, UrlSigner
from services.runtime import Runtime
from services.settings import Settings
from tests.integration.media.conftest import A, MODB, seed_world

EVENTS_PREFIX = "media_events-"


async def consumers_until(broker, expected, timeout: float = 5.0) -> dict[str, int]:
    """The broker's consumer count per media queue once ``expected(counts)`` holds (the management
    API may lag a little behind); fails with the last counts otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await asyncio.to_thread(broker.admin.count_consumers, broker.vhost)
        media = {q: n for q, n in counts.items() if q == QUEUE or q.startswith(EVENTS_PREFIX)}
        if expected(media) or time.monotonic() > deadline:
            assert expected(media), media
            return media
        await asyncio.sleep(0.1)


def of(counts: dict[str, int]) -> tuple[int, list[int]]:
    """(consumers of the shared media_requests queue, consumers of each media_events queue)."""
    return counts.get(QUEUE, 0), sorted(n for q, n in counts.items() if q.startswith(EVENTS_PREFIX))


async def test_a_replica_is_ready_only_while_its_responder_consumes(start_media, memory_store, broker):
    await seed_world(memory_store)
    first = await start_media(memory_store, secret="replicas")
    assert first.voicemail.ready and first.responder.ready
    await consumers_until(broker, lambda c: of(c) == (1, [1]))
    second = await start_media(memory_store, secret="replicas")
    assert second.voicemail.ready
    await consumers_until(broker, lambda c: of(c) == (2, [1, 1]))        # one shared queue, one event queue each

    # a responder that stopped consuming takes its replica out of readiness: its bus alone would not
    # notice (a stopped consumer no longer counts there), the service asks the responder too
    await second.responder.stop(1.0)
    assert second.bus.ready and not second.responder.ready
    assert not second.voicemail.ready and first.voicemail.ready
    await consumers_until(broker, lambda c: of(c) == (1, [1]))


async def test_responder_off_answers_no_media_req_and_message_urls_still_open(start_media, memory_store, broker,
                                                                            gateway):
    world = await seed_world(memory_store)
    service = await start_media(memory_store, media_responder=False)
    assert service.voicemail.responder is None and service.voicemail.ready
    queues = {q["name"] for q in await asyncio.to_thread(broker.admin.list_queues, broker.vhost)}
    assert QUEUE not in queues and not any(q.startswith(EVENTS_PREFIX) for q in queues)
    assert await gateway.ask("prompt://system_media/vm-person/en-us", timeout=1.0) == []
    # check playback's URLs come from the same routes on the upload listener
    url = await service.voicemail.deps.message_audio.url_for(A, {"_id": world.m1_id})
    assert url.startswith(service.url + "/media/") and url.endswith("/" + world.m1_attachment)
    fetched = await gateway.fetch(url)
    assert (fetched.status, fetched.body) == (200, world.b_m1)
    grant = UrlSigner("media-test-secret", clock=service.clock).check(url.split("/media/")[1].split("/")[0], Purpose.PLAY)
    assert (grant.db, grant.doc_id, grant.attachment) == (MODB, world.m1_id, world.m1_attachment)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_process_running_callflow_only_has_no_responder(amqp_url, broker, gateway):
    """``kzvoice run --only callflow``: its greetings then fail at the gateway (media.md 6.6 rule 4)."""
    settings = Settings(amqp_url=amqp_url, store_url="memory://", http_host="127.0.0.1", http_port=_free_port(),
                        node="callflow@media-test")
    runtime = Runtime(settings, ["callflow"])
    await runtime.start()
    try:
        assert runtime.ready and [s.name for s in runtime.services] == ["callflow"]
        queues = {q["name"] for q in await asyncio.to_thread(broker.admin.list_queues, broker.vhost)}
        assert QUEUE not in queues
        assert await gateway.ask(f"/{A}/5f1d2a3b4c5d6e7f8a9b0c1d2e3f4a5b", timeout=1.0) == []
    finally:
        await runtime.stop()
