"""The system prompt list, the placeholders ``kzvoice prompts seed`` writes, and ``prompts import``
(media.md 5.3, 6.7), on the memory store; the same on every backend in
tests/integration/media/test_seeding.py."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest

from services.media import wav
from services.media.seeding import PromptVoice, import_prompts, prompt_doc_id, prompt_document, seed_prompts
from services.media.system_prompts import PROMPT_IDS, PROMPTS
from services.store.memory import MemoryStore

REPO = Path(__file__).resolve().parents[3]
KAZOO_SCHEMAS = Path(os.environ.get("KZ_KAZOO_SCHEMAS") or REPO / ".." / "shared" / "kazoo-schemas")
SPEC = REPO / ".." / "shared" / "spec" / "voicemail.md"
PROMPT_ID = re.compile(r"^(vm|menu|cf|fault)-[a-z0-9_]+$")


def _prompt_ids_in_code() -> set[str]:
    """Every string literal of voicemail_svc and callflow_svc that looks like a prompt id."""
    found = set()
    for package in ("voicemail_svc", "callflow_svc"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and PROMPT_ID.match(node.value):
                    found.add(node.value)
    return found


def test_every_prompt_the_code_asks_for_is_seeded():
    used = _prompt_ids_in_code()
    assert len(used) > 40                       # the scan finds the code's prompts at all
    assert sorted(used - set(PROMPT_IDS)) == []


def test_the_seed_list_is_the_prompt_inventory_of_voicemail_md():
    if not SPEC.is_file():
        pytest.fail(f"{SPEC} is missing: the spec is reference data beside the repository")
    text = SPEC.read_text(encoding="utf-8")
    section = text[text.index("### 10.1 Prompts and media"):text.index("### 10.2")]
    inventory = {name for name in re.findall(r"`([a-z]+-[a-z0-9_]+)`", section) if PROMPT_ID.match(name)}
    assert inventory == set(PROMPT_IDS)
    assert all(words.strip() for words in PROMPTS.values())


def _media_schema():
    path = KAZOO_SCHEMAS / "media.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: KAZOO's schemas are reference data beside the repository")
    from jsonschema import Draft4Validator
    return Draft4Validator(json.loads(path.read_text()))


def test_prompt_documents_validate_against_kazoos_media_schema():
    schema = _media_schema()
    doc = prompt_document("vm-person", language="EN-US", audio=wav.tone(0.2), extension=".wav", description="x")
    assert [e.message for e in schema.iter_errors(doc)] == []
    assert doc["_id"] == doc["name"] == "en-us/vm-person" and doc["language"] == "en-us"
    assert (doc["pvt_type"], doc["pvt_account_id"], doc["pvt_account_db"]) == ("media", "system_media", "system_media")
    assert (doc["media_source"], doc["streamable"], doc["source_type"]) == ("upload", True, "kzvoice")
    assert list(doc["_attachments"]) == ["vm-person.wav"]
    assert doc["_attachments"]["vm-person.wav"]["content_type"] == doc["content_type"] == "audio/wav"
    mp3 = prompt_document("vm-x", language="fr", audio=b"ID3...", extension=".mp3", description="vm-x.mp3")
    assert mp3["content_type"] == "audio/mpeg" and [e.message for e in schema.iter_errors(mp3)] == []
    account = prompt_document("vm-x", language="fr", audio=b"ID3", extension=".mp3", description="d",
                              db="account/4f/e6/9c5b61015084f1fe5684abc6e502")
    assert account["pvt_account_id"] == "4fe69c5b61015084f1fe5684abc6e502"
    assert account["pvt_account_db"] == "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"


async def test_seed_writes_only_what_is_missing_as_telephone_wav():
    store = MemoryStore()
    voice = PromptVoice(espeak=None)
    report = await seed_prompts(store, voice=voice, lengths={"vm-goodbye": 0.4})
    assert (len(report.written), report.kept, report.failed) == (len(PROMPT_IDS), [], [])
    schema = _media_schema()
    for prompt_id in PROMPT_IDS:
        doc = await store.get("system_media", prompt_doc_id("en-us", prompt_id))
        assert [e.message for e in schema.iter_errors(doc)] == []
        audio = await store.get_attachment("system_media", doc["_id"], f"{prompt_id}.wav")
        assert wav.duration(audio) == (0.4 if prompt_id == "vm-goodbye" else 1.5)
        assert audio[22:24] == b"\x01\x00" and int.from_bytes(audio[24:28], "little") == 8000   # mono, 8 kHz
    again = await seed_prompts(store, voice=voice)
    assert (again.written, len(again.kept)) == ([], len(PROMPT_IDS))


async def test_seed_language_comes_from_the_stored_system_config():
    store = MemoryStore()
    await store.create_db("system_config")
    await store.put("system_config", {"_id": "media", "default": {"default_language": "FR-CA"}})
    report = await seed_prompts(store, voice=PromptVoice(espeak=None), prompt_ids=["vm-goodbye"])
    assert report.language == "fr-ca" and report.written == ["vm-goodbye"]
    assert (await store.get("system_media", "fr-ca/vm-goodbye"))["language"] == "fr-ca"
    with pytest.raises(ValueError):
        await seed_prompts(store, voice=PromptVoice(espeak=None), prompt_ids=["vm-not-a-prompt"])


async def test_import_loads_wav_and_mp3_by_base_name_and_repeats_safely(tmp_path):
    (tmp_path / "vm-enter_pass.wav").write_bytes(wav.tone(0.3))
    (tmp_path / "custom-hello.mp3").write_bytes(b"ID3" + bytes(500))
    (tmp_path / "notes.txt").write_text("not audio")
    store = MemoryStore()
    first = await import_prompts(store, tmp_path, language="de")
    assert (sorted(first.written), first.failed) == (["custom-hello", "vm-enter_pass"], [])
    doc = await store.get("system_media", "de/custom-hello")
    assert doc["_attachments"]["custom-hello.mp3"]["content_type"] == "audio/mpeg" and doc["prompt_id"] == \
        "custom-hello"
    assert [e.message for e in _media_schema().iter_errors(doc)] == []
    again = await import_prompts(store, tmp_path, language="de")
    assert (again.written, sorted(again.kept)) == ([], ["custom-hello", "vm-enter_pass"])
    (tmp_path / "custom-hello.mp3").write_bytes(b"ID3" + bytes(700))
    changed = await import_prompts(store, tmp_path, language="de")
    assert changed.written == ["custom-hello"]
    assert len(await store.get_attachment("system_media", "de/custom-hello", "custom-hello.mp3")) == 703
    (tmp_path / "empty.wav").write_bytes(b"")
    assert len((await import_prompts(store, tmp_path, language="de")).failed) == 1


def test_tone_and_conversion_to_telephone_wav():
    tone = wav.tone(0.25)
    assert wav.duration(tone) == 0.25 and len(tone) == 44 + 2 * 2000
    loud = wav._wav(__import__("array").array("h", [1000, -1000] * 11025), rate=22050)
    converted = wav.to_telephone_wav(loud)
    assert abs(wav.duration(converted) - 1.0) < 0.001
    assert int.from_bytes(converted[24:28], "little") == 8000
    assert wav.duration(b"not a wav") is None
