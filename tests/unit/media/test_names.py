"""Media names (media.md 2.1, 4.1, 4.2): what the gateway plays as is, what a name points at."""

from __future__ import annotations

import pytest

from services.media.names import (GatewayHandling, InvalidName, PromptName, StoredMedia, TtsName, gateway_handling,
                                  language_keys, parse)

A = "4fe69c5b61015084f1fe5684abc6e502"
A_DB = "account/4f/e6/9c5b61015084f1fe5684abc6e502"


@pytest.mark.parametrize("name,expected", [
    (None, GatewayHandling.AS_IS),
    ("", GatewayHandling.AS_IS),
    ("silence", GatewayHandling.AS_IS),
    ("silence_stream://50", GatewayHandling.AS_IS),
    ("tone_stream://%(500,100,440)", GatewayHandling.AS_IS),
    ("say:1234", GatewayHandling.AS_IS),
    ("shout://radio.example.com/x.mp3", GatewayHandling.AS_IS),
    ("/tmp/5d41402abc4b2a76b9719d911017c592.mp3", GatewayHandling.AS_IS),
    ("http_cache://http://x/y.wav", GatewayHandling.AS_IS),
    ("${hold_music}", GatewayHandling.AS_IS),
    ("local_stream://5d41402abc4b2a76b9719d911017c592.mp3", GatewayHandling.LOCAL_RECORDING),
    ("http://media.example.com/x.mp3", GatewayHandling.URL),
    ("https://media.example.com/x.mp3", GatewayHandling.URL),
    (f"prompt://{A}/vm-enter_pass/en-us", GatewayHandling.MEDIA_REQ),
    ("tts://9a0364b9e99bb480dd25e1f0284c8555", GatewayHandling.MEDIA_REQ),
    (f"/{A}/greeting", GatewayHandling.MEDIA_REQ),
    ("/system_media/vm-person", GatewayHandling.MEDIA_REQ),
    ("demo-welcome", GatewayHandling.MEDIA_REQ),
    ("5d41402abc4b2a76b9719d911017c592.mp3", GatewayHandling.MEDIA_REQ),
    ("ftp://x/y", GatewayHandling.MEDIA_REQ),
])
def test_gateway_handling_follows_media_path(name, expected):
    assert gateway_handling(name) is expected


@pytest.mark.parametrize("name,expected", [
    (f"prompt://{A}/vm-person/EN-US", PromptName(A, "vm-person", "en-us")),
    (f"prompt://{A}/vm-person", PromptName(A, "vm-person", None)),
    ("prompt://system_media/vm-person/fr", PromptName("system_media", "vm-person", "fr")),
    ("prompt://account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502/vm-person/fr", PromptName(A, "vm-person", "fr")),
    ("tts://abc", TtsName("abc")),
    ("demo-welcome", StoredMedia("system_media", "demo-welcome", None)),
    ("/system_media/demo-welcome", StoredMedia("system_media", "demo-welcome", None)),
    (f"/{A}/g1", StoredMedia(A_DB, "g1", None)),
    (f"/account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502/g1", StoredMedia(A_DB, "g1", None)),
    # a monthly database in the two-part form names its account (KAZOO looks in the account database)
    ("/account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502-202403/m1", StoredMedia(A_DB, "m1", None)),
    ("/system_media/en-us/vm-person", StoredMedia("system_media", "en-us/vm-person", None)),
    ("/system_media/en-us%2Fvm-person", StoredMedia("system_media", "en-us/vm-person", None)),
    ("/account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502-202403/m1/a.mp3",
     StoredMedia(A_DB + "-202403", "m1", "a.mp3")),
    (f"/{A}/g1/greeting.mp3", StoredMedia(A_DB, "g1", "greeting.mp3")),
    ("/account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502/g1/my%20file.mp3", StoredMedia(A_DB, "g1", "my file.mp3")),
    ("//system_media//demo-welcome//", StoredMedia("system_media", "demo-welcome", None)),
])
def test_parse_name_forms(name, expected):
    assert parse(name) == expected


@pytest.mark.parametrize("name", [
    f"prompt://{A}", "prompt://a/b/c/d", "prompt://nobody/vm-person/en", f"prompt://{A}//en",
    "/foo/bar", "/a/b/c/d", "/", "/Not A Db/x/y",
])
def test_parse_rejects_what_names_nothing(name):
    assert isinstance(parse(name), InvalidName)


@pytest.mark.parametrize("language,keys", [
    ("en", ["en"]), ("en-us", ["en-us", "en"]), ("FR-CA", ["fr-ca", "fr"]),
    ("en-us_fr-ca", ["en-us_fr-ca", "en-us", "en"]), ("klingon", ["klingon"]), ("e", ["e"]),
])
def test_language_keys_most_specific_first(language, keys):
    assert language_keys(language) == keys
