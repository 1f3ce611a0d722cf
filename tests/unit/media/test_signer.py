"""Signed URL tokens (media.md 6.3): purpose, expiry by an injected clock, tampering."""

from __future__ import annotations

import pytest

from services.media.signer import Purpose, Refusal, TokenRefused, UrlSigner


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _issue(signer: UrlSigner, purpose: Purpose = Purpose.PLAY, **changes) -> str:
    fields = {"db": "account/4f/e6/9c5b61015084f1fe5684abc6e502-202403", "doc_id": "202403-abc",
              "attachment": "x.mp3", "ttl_s": 7200, **changes}
    return signer.issue(purpose, **fields)


def _refusal(signer: UrlSigner, token: str, purpose: Purpose = Purpose.PLAY) -> Refusal:
    with pytest.raises(TokenRefused) as caught:
        signer.check(token, purpose)
    return caught.value.reason


def test_med_026_token_checks_any_number_of_times_until_it_expires():
    clock = Clock()
    signer = UrlSigner("secret", clock=clock)
    token = _issue(signer)
    for advance in (0, 0, 3600, 3600):
        clock.now += advance
        grant = signer.check(token, Purpose.PLAY)
    assert (grant.db, grant.doc_id, grant.attachment, grant.nonce) == \
        ("account/4f/e6/9c5b61015084f1fe5684abc6e502-202403", "202403-abc", "x.mp3", None)
    assert grant.expires == 1_700_007_200


def test_med_027_token_expires_after_its_lifetime():
    clock = Clock()
    signer = UrlSigner("secret", clock=clock)
    token = _issue(signer)
    clock.now += 7201
    assert _refusal(signer, token) is Refusal.EXPIRED


def test_med_028_every_changed_character_breaks_the_token():
    signer = UrlSigner("secret", clock=Clock())
    token = _issue(signer)
    for i, char in enumerate(token):
        if char == ".":
            continue
        altered = token[:i] + ("A" if char != "A" else "B") + token[i + 1:]
        assert _refusal(signer, altered) in (Refusal.BAD_SIGNATURE, Refusal.MALFORMED), i
    assert _refusal(UrlSigner("other secret", clock=Clock()), token) is Refusal.BAD_SIGNATURE
    for broken in ("", "nodot", ".sig", "payload.", "a.b.c"):
        assert _refusal(signer, broken) in (Refusal.MALFORMED, Refusal.BAD_SIGNATURE)


def test_med_029_purposes_keep_play_and_upload_tokens_apart():
    signer = UrlSigner("secret", clock=Clock())
    upload = _issue(signer, Purpose.UPLOAD_MESSAGE, ttl_s=900, single_use=True)
    assert _refusal(signer, upload, Purpose.PLAY) is Refusal.WRONG_PURPOSE
    assert signer.check(upload, Purpose.UPLOAD_MESSAGE).nonce
    assert _refusal(signer, _issue(signer), Purpose.UPLOAD_MEDIA) is Refusal.WRONG_PURPOSE
    assert _refusal(signer, _issue(signer, Purpose.UPLOAD_MEDIA), Purpose.UPLOAD_MESSAGE) is Refusal.WRONG_PURPOSE


def test_without_a_secret_each_signer_has_its_own():
    token = _issue(UrlSigner(None, clock=Clock()))
    assert _refusal(UrlSigner(None, clock=Clock()), token) is Refusal.BAD_SIGNATURE


def test_refusal_message_never_contains_the_token():
    signer = UrlSigner("secret", clock=Clock())
    token = _issue(signer)
    for bad in (token[:-2] + "xx", token):
        clock_signer = UrlSigner("secret", clock=lambda: 2_000_000_000.0)
        with pytest.raises(TokenRefused) as caught:
            clock_signer.check(bad, Purpose.PLAY)
        assert token not in str(caught.value) and token.split(".")[0] not in str(caught.value)
