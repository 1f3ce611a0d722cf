"""What the media responder remembers, and the events that make it forget (media.md 6.2)."""

from __future__ import annotations

import pytest

from services.media.answers import Answers, flushes
from services.media.audio import Place

PLACE = Place("system_media", "en-us/vm-person", "vm-person.wav")


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_found_answers_are_kept_until_they_expire():
    clock = Clock()
    answers = Answers(ttl_s=300, clock=clock)
    answers.keep("prompt://system_media/vm-person/en-us", PLACE, generation=answers.generation)
    assert answers.get("prompt://system_media/vm-person/en-us") == PLACE
    clock.now += 299
    assert answers.get("prompt://system_media/vm-person/en-us") == PLACE
    clock.now += 1
    assert answers.get("prompt://system_media/vm-person/en-us") is None and len(answers) == 0


def test_a_flush_during_a_lookup_keeps_its_result_out():
    answers = Answers()
    generation = answers.generation
    answers.flush("doc_edited")
    answers.keep("n", PLACE, generation=generation)
    assert answers.get("n") is None
    answers.keep("n", PLACE, generation=answers.generation)
    assert answers.get("n") == PLACE and answers.flush("x") == 1 and answers.get("n") is None


def test_zero_lifetime_keeps_nothing_and_size_is_bounded():
    off = Answers(ttl_s=0)
    off.keep("n", PLACE, generation=off.generation)
    assert off.get("n") is None
    small = Answers(max_entries=3)
    for i in range(7):
        small.keep(f"n{i}", PLACE, generation=small.generation)
    assert len(small) <= 3 and small.get("n6") == PLACE


@pytest.mark.parametrize("event,expected", [
    ({"Event-Name": "doc_created", "Type": "media", "Database": "account%2F4f%2Fe6%2Fx"}, True),
    ({"Event-Name": "doc_deleted", "Type": "media", "Database": "system_media"}, True),
    ({"Event-Name": "doc_edited", "Type": "account", "Database": "accounts"}, True),
    ({"Event-Name": "doc_edited", "Type": "account_config", "Database": "account%2F4f"}, True),
    ({"Event-Name": "doc_edited", "Type": "config", "Database": "system_config"}, True),
    ({"Event-Name": "doc_edited", "Type": "service", "Database": "services"}, True),
    ({"Event-Name": "db_deleted", "Database": "account%2F4f"}, True),
    ({"Event-Name": "doc_edited", "Type": "callflow", "Database": "account%2F4f"}, False),
    ({"Event-Name": "doc_created", "Type": "mailbox_message", "Database": "account%2F4f-202403"}, False),
    ({"Event-Name": "db_created", "Database": "account%2F4f"}, False),
])
def test_events_that_flush(event, expected):
    assert flushes(event) is expected


async def test_responder_refuses_to_start_with_a_non_http_base():
    """ecallmgr drops an https:// Stream-URL (media.md 8.1): fail at start, not on every call."""
    from services.media.audio import AudioResolver
    from services.media.endpoint import MediaEndpoint
    from services.media.responder import MediaResponder
    from services.media.signer import UrlSigner
    from services.store.memory import MemoryStore

    endpoint = MediaEndpoint(AudioResolver(MemoryStore()), UrlSigner("s"), base_url="https://media.example.com")
    responder = MediaResponder(None, AudioResolver(MemoryStore()), endpoint, None)
    with pytest.raises(ValueError, match="http://"):
        await responder.start()
    assert not responder.ready
