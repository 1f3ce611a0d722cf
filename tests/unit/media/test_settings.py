"""``KZ_MEDIA_RESPONDER``, ``KZ_MEDIA_URL_TTL_S`` and the ``KZ_PUBLIC_URL`` they need (media.md 6.1, 6.3)."""

from __future__ import annotations

import pytest

from services.settings import Settings, SettingsError


def test_defaults_answer_media_req_with_two_hour_urls():
    settings = Settings.from_env({})
    assert (settings.media_responder, settings.media_url_ttl_s) == (True, 7200)


@pytest.mark.parametrize("value,expected", [("on", True), ("OFF", False), ("false", False), ("1", True),
                                            ("no", False), ("", True)])
def test_media_responder_switch(value, expected):
    assert Settings.from_env({"KZ_MEDIA_RESPONDER": value}).media_responder is expected


@pytest.mark.parametrize("env,fragment", [({"KZ_MEDIA_RESPONDER": "maybe"}, "KZ_MEDIA_RESPONDER"),
                                          ({"KZ_MEDIA_URL_TTL_S": "0"}, "KZ_MEDIA_URL_TTL_S"),
                                          ({"KZ_MEDIA_URL_TTL_S": "2h"}, "KZ_MEDIA_URL_TTL_S")])
def test_bad_media_settings_name_the_variable(env, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)


def test_url_lifetime_is_read():
    assert Settings.from_env({"KZ_MEDIA_URL_TTL_S": "3600"}).media_url_ttl_s == 3600


def test_an_https_public_url_is_refused_while_the_responder_answers():
    with pytest.raises(SettingsError, match="KZ_PUBLIC_URL.*http://"):
        Settings.from_env({"KZ_PUBLIC_URL": "https://vm.example.com:8090"})
    # with another responder answering, the base only serves message URLs and uploads
    off = Settings.from_env({"KZ_PUBLIC_URL": "https://vm.example.com:8090", "KZ_MEDIA_RESPONDER": "off"})
    assert off.public_url == "https://vm.example.com:8090"
    assert Settings.from_env({"KZ_PUBLIC_URL": "http://vm.example.com:8090"}).public_url == "http://vm.example.com:8090"
