"""media.md 7, name forms: MED-005 .. MED-010, on memory, SQLite and the CouchDB-API server."""

from __future__ import annotations

import base64

from services.store import layout
from tests.integration.media.conftest import A, A_DB, A_DB_ENCODED, MODB, MODB_ENCODED, SYSTEM_MEDIA, audio_bytes


async def test_med_005_greeting_by_account_id_served_as_mpeg(media, world, gateway):
    await gateway.resolves_to(f"/{A}/{world.greeting_id}", attachment="greeting.mp3", data=world.b_g,
                              content_type="audio/mpeg")


async def test_med_006_greeting_by_encoded_account_database(media, world, gateway):
    await gateway.resolves_to(f"/{A_DB_ENCODED}/{world.greeting_id}", attachment="greeting.mp3", data=world.b_g,
                              content_type="audio/mpeg")


async def test_med_007_old_style_system_media_document_by_path_and_bare_name(media, store, gateway):
    data = audio_bytes("DEMO")
    await store.put(SYSTEM_MEDIA, layout.stamp(
        {"_id": "demo-welcome", "name": "demo-welcome", "media_source": "upload",
         "_attachments": {"welcome.wav": {"content_type": "audio/wav", "data": base64.b64encode(data).decode()}}},
        pvt_type="media", db=SYSTEM_MEDIA))
    for name in ("/system_media/demo-welcome", "demo-welcome"):
        await gateway.resolves_to(name, attachment="welcome.wav", data=data, content_type="audio/wav")


async def test_med_008_system_media_language_path_and_encoded_id(media, world, gateway):
    for name in ("/system_media/en-us/vm-person", "/system_media/en-us%2Fvm-person"):
        await gateway.resolves_to(name, attachment="vm-person.wav", data=world.s_en)


async def test_med_009_message_by_three_parts_and_not_by_two(media, world, gateway):
    await gateway.resolves_to(f"/{MODB_ENCODED}/{world.m1_id}/{world.m1_attachment}",
                              attachment=world.m1_attachment, data=world.b_m1, content_type="audio/mpeg")
    # the two-part form looks in the account database, where messages never are (as KAZOO does)
    await gateway.answers(f"/{MODB_ENCODED}/{world.m1_id}", "not_found", "not_found")
    assert MODB != A_DB


async def test_med_010_prompt_without_language_takes_the_account_documents_language(media, store, world, gateway):
    account = await store.get(A_DB, A)
    await store.put(A_DB, {**account, "language": "fr-FR"})
    await gateway.resolves_to(f"prompt://{A}/vm-person", attachment="vm-person.wav", data=world.s_fr)
