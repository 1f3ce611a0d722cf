"""media.md 7, bus contract: MED-001 .. MED-004 (real broker, real HTTP client)."""

from __future__ import annotations

import asyncio
import logging

from tests.integration.media.conftest import seed_world


async def test_med_001_system_prompt_resolves_and_is_served_as_wav(media, world, gateway):
    fetched = await gateway.resolves_to("prompt://system_media/vm-person/en-us", attachment="vm-person.wav",
                                        data=world.s_en, content_type="audio/wav")
    assert fetched.headers["Content-Length"] == str(len(world.s_en))


async def test_med_002_invalid_request_gets_no_reply_and_one_log_line(start_media, memory_store, gateway, caplog):
    await seed_world(memory_store)
    service = await start_media(memory_store)
    caplog.set_level(logging.INFO)
    for fields in ({"Media-Name": None}, {"Media-Name": "prompt://system_media/vm-person/en-us",
                                          "Stream-Type": "store"}):
        caplog.clear()
        replies = await gateway.ask(fields.pop("Media-Name"), timeout=1.0, **fields)
        assert replies == []
        dropped = [r for r in caplog.records if "media_requests" in r.getMessage()]
        assert len(dropped) == 1, [r.getMessage() for r in caplog.records]
        reason = dropped[0].getMessage()
        assert ("Media-Name" in reason) if "Stream-Type" not in fields else ("Stream-Type" in reason or
                                                                             "store" in reason)
    assert service.responder.answered == 0


async def test_med_003_request_without_server_id_is_not_answered_and_service_goes_on(start_media, memory_store,
                                                                                     gateway, caplog):
    world = await seed_world(memory_store)
    service = await start_media(memory_store)
    caplog.set_level(logging.WARNING)
    replies = await gateway.ask("prompt://system_media/vm-person/en-us", server_id=None, timeout=1.0)
    assert replies == []
    assert service.responder.unanswered == 1 and service.responder.answered == 0
    assert any("no Server-ID" in r.getMessage() and "Stream-URL" in r.getMessage() for r in caplog.records)
    await gateway.resolves_to("prompt://system_media/vm-person/en-us", attachment="vm-person.wav", data=world.s_en)


async def test_med_004_two_instances_answer_each_request_exactly_once(start_media, memory_store, gateway):
    world = await seed_world(memory_store)
    first = await start_media(memory_store, secret="shared")
    second = await start_media(memory_store, secret="shared")
    names = [f"/{world.greeting_id}" if i % 2 else "prompt://system_media/vm-person/fr" for i in range(20)]
    results = await asyncio.gather(*(gateway.ask(name, settle=0.5) for name in names))
    assert [len(replies) for replies in results] == [1] * 20
    kinds = {r[0].spec.name for r in results}
    assert kinds == {"media_resp", "media_error"}       # the bare name looks in system_media: not_found
    assert first.responder.answered + second.responder.answered == 20
    assert first.responder.answered > 0 and second.responder.answered > 0
    url = next(r[0]["Stream-URL"] for r in results if r[0].spec.name == "media_resp")
    assert (await gateway.fetch(url)).body == world.s_fr
