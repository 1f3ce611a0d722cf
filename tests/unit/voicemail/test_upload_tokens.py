"""Upload tokens (voicemail_svc/storage/upload.py) on the service's one signer: signature, purpose,
expiry, single use."""

from __future__ import annotations

import pytest

from services.media.signer import Purpose, UrlSigner
from voicemail_svc.storage.upload import Forbidden, UploadTokens

DOC = "202403-" + "a" * 32
DB = "account/ac/ct/" + "0" * 28 + "-202403"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def issue(tokens: UploadTokens, purpose: Purpose = Purpose.UPLOAD_MESSAGE, doc_id: str = DOC,
          ttl_s: float = 15 * 60) -> str:
    return tokens.issue(purpose, db=DB, doc_id=doc_id, attachment="x.mp3", ttl_s=ttl_s)


def test_a_token_names_its_attachment_and_checks_once():
    tokens = UploadTokens(UrlSigner("secret"))
    token = issue(tokens)
    grant = tokens.check(token, Purpose.UPLOAD_MESSAGE)
    assert (grant.db, grant.doc_id, grant.attachment) == (DB, DOC, "x.mp3")
    tokens.begin(grant)
    with pytest.raises(Forbidden):
        tokens.check(token, Purpose.UPLOAD_MESSAGE)      # in flight: a concurrent second PUT is refused
    tokens.finish(grant, consumed=True)
    with pytest.raises(Forbidden):
        tokens.check(token, Purpose.UPLOAD_MESSAGE)      # used


def test_a_failed_store_does_not_use_the_token_up():
    tokens = UploadTokens(UrlSigner("secret"))
    token = issue(tokens)
    grant = tokens.check(token, Purpose.UPLOAD_MESSAGE)
    tokens.begin(grant)
    tokens.finish(grant, consumed=False)
    assert tokens.check(token, Purpose.UPLOAD_MESSAGE) == grant


def test_tampered_foreign_and_other_purpose_tokens_are_refused():
    signer = UrlSigner("secret")
    tokens = UploadTokens(signer)
    token = issue(tokens)
    payload, _, signature = token.partition(".")
    with pytest.raises(Forbidden):
        tokens.check(payload[:-2] + "AA." + signature, Purpose.UPLOAD_MESSAGE)
    with pytest.raises(Forbidden):
        tokens.check(issue(UploadTokens(UrlSigner("other"))), Purpose.UPLOAD_MESSAGE)
    with pytest.raises(Forbidden):
        tokens.check("garbage", Purpose.UPLOAD_MESSAGE)
    # a media upload token opens no message upload, and the other way round
    with pytest.raises(Forbidden, match="another purpose"):
        tokens.check(issue(tokens, Purpose.UPLOAD_MEDIA), Purpose.UPLOAD_MESSAGE)
    with pytest.raises(Forbidden, match="another purpose"):
        tokens.check(token, Purpose.UPLOAD_MEDIA)
    # a Stream-URL's token (the same signer, purpose play) opens no upload (MED-029)
    play = signer.issue(Purpose.PLAY, db=DB, doc_id=DOC, attachment="x.mp3", ttl_s=7200)
    with pytest.raises(Forbidden, match="another purpose"):
        tokens.check(play, Purpose.UPLOAD_MESSAGE)
    # an upload token must be single use
    reusable = signer.issue(Purpose.UPLOAD_MESSAGE, db=DB, doc_id=DOC, attachment="x.mp3", ttl_s=60)
    with pytest.raises(Forbidden, match="single-use"):
        tokens.check(reusable, Purpose.UPLOAD_MESSAGE)


def test_expiry():
    clock = Clock()
    tokens = UploadTokens(UrlSigner("secret", clock=clock))
    token = issue(tokens)                          # 15 minutes
    clock.now += 14 * 60
    tokens.check(token, Purpose.UPLOAD_MESSAGE)
    clock.now += 2 * 60
    with pytest.raises(Forbidden):
        tokens.check(token, Purpose.UPLOAD_MESSAGE)


def test_used_tokens_are_forgotten_only_after_they_expire():
    clock = Clock()
    tokens = UploadTokens(UrlSigner("secret", clock=clock))
    first = issue(tokens, ttl_s=60)
    grant = tokens.check(first, Purpose.UPLOAD_MESSAGE)
    tokens.begin(grant)
    tokens.finish(grant, consumed=True)
    for n in range(1100):                          # enough used tokens to prune the book
        other = tokens.check(issue(tokens, doc_id=f"202403-{n:032x}", ttl_s=3600), Purpose.UPLOAD_MESSAGE)
        tokens.begin(other)
        tokens.finish(other, consumed=True)
    with pytest.raises(Forbidden, match="already used"):
        tokens.check(first, Purpose.UPLOAD_MESSAGE)   # still refused while it could be valid
    clock.now += 120
    with pytest.raises(Forbidden, match="expired"):
        tokens.check(first, Purpose.UPLOAD_MESSAGE)


def test_an_empty_secret_means_a_random_one_per_process():
    token = issue(UploadTokens(UrlSigner("")))
    with pytest.raises(Forbidden):
        UploadTokens(UrlSigner("")).check(token, Purpose.UPLOAD_MESSAGE)
