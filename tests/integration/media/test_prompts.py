"""media.md 7, prompts: MED-011 .. MED-019, on memory, SQLite and the CouchDB-API server."""

from __future__ import annotations

import asyncio

from services.bus import Bus, open_transport
from services.media.seeding import prompt_document
from services.messages import catalogue as m
from services.store import layout
from tests.integration.media.conftest import (A, A_DB, A_DB_ENCODED, SYSTEM_MEDIA, VALIDATOR, audio_bytes, put_account,
                                              put_prompt)

RESELLER = "7c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f"


async def _override(store, *, language="en-us", data=None, extension=".mp3", **changes):
    data = data or audio_bytes("A_EN")
    await put_prompt(store, A_DB, "vm-person", language, data, extension=extension, **changes)
    return data


async def test_med_011_account_override_and_system_prompt_side_by_side(media, store, world, gateway):
    a_en = await _override(store)
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.mp3", data=a_en,
                              content_type="audio/mpeg")
    await gateway.resolves_to("prompt://system_media/vm-person/en-us", attachment="vm-person.wav", data=world.s_en)


async def test_med_012_deleted_override_falls_back_to_the_system_prompt(media, store, world, gateway):
    await _override(store, pvt_deleted=True)
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.wav", data=world.s_en)


async def test_med_013_regional_language_falls_back_to_its_primary_language(media, world, gateway):
    await gateway.resolves_to(f"prompt://{A}/vm-person/fr-ca", attachment="vm-person.wav", data=world.s_fr)


async def test_med_014_unknown_language_falls_back_to_media_default_language(media, store, world, gateway):
    await gateway.resolves_to(f"prompt://{A}/vm-person/de-de", attachment="vm-person.wav", data=world.s_en)
    before = media.flushes
    await _set_system_default_language(media, "fr")
    await media.flushed_since(before)           # config_svc's change event
    await gateway.resolves_to(f"prompt://{A}/vm-person/de-de", attachment="vm-person.wav", data=world.s_fr)


async def _set_system_default_language(media, language: str) -> None:
    """Through config_svc, as an operator's ``kzvoice config set media default_language``."""
    replies = await media.bus.reply_queue("media-test-config")
    try:
        answer = await replies.request(m.get("sysconf.set_req"),
                                       {"Category": "media", "Key": "default_language", "Value": language},
                                       timeout=5)
        assert answer.get("Status") in (None, "ok", "success"), answer.to_dict()
    finally:
        await replies.close()
    for _ in range(50):   # the change event reaches the service's config client
        if await media.config.get("media", "default_language", "en-us") == language:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the config client never saw the new default language")


async def test_med_015_exact_language_is_tried_in_every_source_first(media, store, world, gateway):
    a_en2 = await _override(store, language="en", data=audio_bytes("A_EN2"))
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.wav", data=world.s_en)
    await gateway.resolves_to(f"prompt://{A}/vm-person/en", attachment="vm-person.mp3", data=a_en2)


async def test_med_016_reseller_prompt_below_account_and_system(media, store, world, gateway):
    await put_account(store, RESELLER, pvt_reseller=True, pvt_reseller_id=RESELLER)
    account = await store.get(A_DB, A)
    await store.put(A_DB, {**account, "pvt_reseller_id": RESELLER, "pvt_tree": [RESELLER]})
    r_data = audio_bytes("R_CUSTOM")
    await put_prompt(store, layout.account_db(RESELLER), "vm-custom", "en-us", r_data)
    await gateway.resolves_to(f"prompt://{A}/vm-custom/en-us", attachment="vm-custom.wav", data=r_data)
    s_data = audio_bytes("S_CUSTOM")
    await put_prompt(store, SYSTEM_MEDIA, "vm-custom", "en-us", s_data)
    await gateway.resolves_to(f"prompt://{A}/vm-custom/en-us", attachment="vm-custom.wav", data=s_data)


async def test_med_017_unknown_prompt_and_malformed_prompt_names(media, gateway):
    await gateway.answers(f"prompt://{A}/vm-nothing/en-us", "not_found", "invalid_media_name")
    await gateway.answers(f"prompt://{A}", "other", "invalid_media_name")
    await gateway.answers("prompt://a/b/c/d", "other", "invalid_media_name")


async def test_med_018_prompt_language_is_matched_ignoring_case(media, store, gateway):
    data = audio_bytes("UPPER")
    doc = prompt_document("vm-shout", language="en-us", audio=data, extension=".wav", description="upper case",
                          db=SYSTEM_MEDIA)
    await store.put(SYSTEM_MEDIA, {**doc, "_id": "EN-US/vm-shout", "language": "EN-US"})
    await gateway.resolves_to("prompt://system_media/vm-shout/en-us", attachment="vm-shout.wav", data=data)


async def test_med_019_stored_override_is_used_after_its_configuration_event(media, store, world, gateway,
                                                                             amqp_url):
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.wav", data=world.s_en)
    a_en = await _override(store)
    saved = await store.get(A_DB, "en-us/vm-person")
    before = media.flushes
    publisher = Bus(open_transport(amqp_url), VALIDATOR, app_name="crossbar", node="crossbar@test")
    await publisher.start()
    try:
        await publisher.publish(m.DOC_CHANGES["doc_created"], {"ID": saved["_id"], "Database": A_DB_ENCODED,
                                                               "Type": "media", "Rev": saved["_rev"],
                                                               "Account-ID": A})
    finally:
        await publisher.close()
    await media.flushed_since(before)
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.mp3", data=a_en)


async def test_med_019_without_an_event_the_change_is_seen_once_the_answer_expires(media, store, world, gateway):
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.wav", data=world.s_en)
    await _quiet(media)                       # config_svc's write-backs of the defaults are announced too
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.wav", data=world.s_en)
    a_en = await _override(store)             # a direct store edit: nobody announces it
    media.clock.advance(299)
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.wav", data=world.s_en)
    media.clock.advance(2)                    # past the 300 s an answer is kept
    await gateway.resolves_to(f"prompt://{A}/vm-person/en-us", attachment="vm-person.mp3", data=a_en)


async def _quiet(media, period: float = 0.3) -> None:
    """Until no configuration event has reached the responder for ``period`` seconds."""
    seen = -1
    while seen != media.flushes:
        seen = media.flushes
        await asyncio.sleep(period)
