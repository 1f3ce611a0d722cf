"""Upload tokens (voicemail_svc/upload.py): signature, expiry, single use."""

from __future__ import annotations

import pytest

from voicemail_svc.storage.upload import Forbidden, UploadTokens


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_names_its_attachment_and_checks_once():
    tokens = UploadTokens("secret")
    token = tokens.issue("acct", "202403-" + "a" * 32, "x.mp3")
    grant = tokens.check(token)
    assert (grant.account_id, grant.doc_id, grant.attachment) == ("acct", "202403-" + "a" * 32, "x.mp3")
    tokens.begin(grant)
    with pytest.raises(Forbidden):
        tokens.check(token)                       # in flight: a concurrent second PUT is refused
    tokens.finish(grant, consumed=True)
    with pytest.raises(Forbidden):
        tokens.check(token)                       # used


def test_a_failed_store_does_not_use_the_token_up():
    tokens = UploadTokens("secret")
    token = tokens.issue("acct", "d", "x.mp3")
    grant = tokens.check(token)
    tokens.begin(grant)
    tokens.finish(grant, consumed=False)
    assert tokens.check(token) == grant


def test_tampered_and_foreign_tokens_are_refused():
    tokens = UploadTokens("secret")
    token = tokens.issue("acct", "d", "x.mp3")
    payload, _, signature = token.partition(".")
    with pytest.raises(Forbidden):
        tokens.check(payload[:-2] + "AA." + signature)
    with pytest.raises(Forbidden):
        tokens.check(UploadTokens("other").issue("acct", "d", "x.mp3"))
    with pytest.raises(Forbidden):
        tokens.check("garbage")


def test_expiry():
    clock = Clock()
    tokens = UploadTokens("secret", clock=clock)
    token = tokens.issue("acct", "d", "x.mp3")          # 15 minutes by default
    clock.now += 14 * 60
    tokens.check(token)
    clock.now += 2 * 60
    with pytest.raises(Forbidden):
        tokens.check(token)


def test_an_empty_secret_means_a_random_one_per_process():
    token = UploadTokens("").issue("acct", "d", "x.mp3")
    with pytest.raises(Forbidden):
        UploadTokens("").check(token)
