"""media.md 7, the HTTP endpoint: MED-026 .. MED-033, through a real aiohttp client, on the
backends where the store matters; and the 50 MB stream that must not be held in memory."""

from __future__ import annotations

import base64
import gc
import hashlib
import logging
import os
import time
import tracemalloc
from pathlib import Path
from urllib.parse import quote

import aiohttp

from services.media.audio import AudioResolver
from services.media.endpoint import MediaEndpoint, StandaloneSite
from services.media.signer import Purpose, UrlSigner
from services.store import layout, open_store
from tests.integration.media.conftest import A, A_DB, MODB, MODB_ENCODED, seed_world
from voicemail_svc.storage.upload import PATH_PREFIX as UPLOAD_PATH

GREETING = f"/{A}/5f1d2a3b4c5d6e7f8a9b0c1d2e3f4a5b"


def _with_token(url: str, token: str) -> str:
    base, _, rest = url.partition("/media/")
    return f"{base}/media/{token}/{rest.split('/', 1)[1]}"


def _token(url: str) -> str:
    return url.partition("/media/")[2].split("/", 1)[0]


async def test_med_026_url_is_not_single_use_within_its_lifetime(media, world, gateway):
    url = await gateway.stream_url(GREETING)
    for advance in (0, 0, 3600):
        media.clock.advance(advance)
        fetched = await gateway.fetch(url)
        assert (fetched.status, fetched.body) == (200, world.b_g)


async def test_med_027_expired_url_is_refused_and_the_log_says_so(media, world, gateway, caplog):
    url = await gateway.stream_url(GREETING)
    media.clock.advance(7201)
    caplog.set_level(logging.INFO)
    fetched = await gateway.fetch(url)
    assert fetched.status == 403 and world.b_g not in fetched.body and len(fetched.body) < 100
    lines = [r.getMessage() for r in caplog.records if "403" in r.getMessage()]
    assert len(lines) == 1 and "expired" in lines[0] and _token(url) not in lines[0]


async def test_med_028_altered_or_foreign_tokens_are_refused(media, world, gateway):
    url = await gateway.stream_url(GREETING)
    token = _token(url)
    payload, signature = token.split(".")
    flip = {"A": "B", "B": "A"}
    for altered in (f"{payload[:-1]}{flip.get(payload[-1], 'A')}.{signature}",
                    f"{payload}.{signature[:-1]}{flip.get(signature[-1], 'A')}"):
        assert (await gateway.fetch(_with_token(url, altered))).status == 403
    assert (await gateway.fetch(url.rsplit("/", 1)[0] + "/x.wav")).status == 403
    other = UrlSigner("another secret", clock=media.clock).issue(Purpose.PLAY, db=A_DB, doc_id=world.greeting_id,
                                                                 attachment="greeting.mp3", ttl_s=7200)
    assert (await gateway.fetch(_with_token(url, other))).status == 403
    assert (await gateway.fetch(url)).status == 200


async def test_med_029_upload_tokens_do_not_open_media(media, world, gateway):
    url = await gateway.stream_url(GREETING)
    signer = UrlSigner("media-test-secret", clock=media.clock)     # the service's secret
    for purpose in (Purpose.UPLOAD_MESSAGE, Purpose.UPLOAD_MEDIA):
        upload = signer.issue(purpose, db=A_DB, doc_id=world.greeting_id, attachment="greeting.mp3", ttl_s=900,
                              single_use=True)
        assert (await gateway.fetch(_with_token(url, upload))).status == 403
    # the tokens of upload URLs the service itself hands the gateway (bus.md 5.3): a recorded greeting's,
    # for that very attachment, and a message's
    for upload_url in (media.uploads.media_url_for(A_DB, world.greeting_id, "greeting.mp3"),
                       media.uploads.url_for(A, world.m1_id, world.m1_attachment)):
        assert upload_url.startswith(media.url)
        fetched = await gateway.fetch(_with_token(url, _token_of_upload(upload_url)))
        assert fetched.status == 403 and world.b_g not in fetched.body
    assert (await gateway.fetch(url)).status == 200


async def test_med_029_a_stream_url_token_uploads_nothing(media, store, world, gateway):
    name = f"/{MODB_ENCODED}/{world.m1_id}/{world.m1_attachment}"
    token = _token(await gateway.stream_url(name))
    refused, accepted = media.uploads.refused, media.uploads.accepted
    put = f"{media.url}{UPLOAD_PATH}{token}/{world.m1_attachment}"
    async with gateway.http.put(put, data=b"not the message", headers={"Content-Type": "audio/mpeg"}) as response:
        assert response.status == 403
    assert (media.uploads.refused, media.uploads.accepted) == (refused + 1, accepted)
    assert await store.get_attachment(MODB, world.m1_id, world.m1_attachment) == world.b_m1
    spool = Path(media.voicemail.deps.spool.directory)
    assert not spool.exists() or [p for p in spool.rglob("*") if p.is_file()] == []


def _token_of_upload(url: str) -> str:
    """The token of ``<base>/vm/upload[-media]/<token>/<attachment>``."""
    return url.rsplit("/", 2)[-2]


async def test_med_030_one_range_is_served_partially(media, world, gateway):
    url = await gateway.stream_url(GREETING)
    n = len(world.b_g)
    assert n > 200
    whole = await gateway.fetch(url)
    assert whole.status == 200 and whole.headers["Content-Length"] == str(n)
    assert whole.headers["Accept-Ranges"] == "bytes"
    first = await gateway.fetch(url, headers={"Range": "bytes=0-99"})
    assert (first.status, first.headers["Content-Range"], first.body) == (206, f"bytes 0-99/{n}", world.b_g[:100])
    assert first.headers["Content-Length"] == "100"
    last = await gateway.fetch(url, headers={"Range": "bytes=-100"})
    assert (last.status, last.headers["Content-Range"], last.body) == (206, f"bytes {n - 100}-{n - 1}/{n}",
                                                                       world.b_g[-100:])
    middle = await gateway.fetch(url, headers={"Range": "bytes=1000-"})
    assert (middle.status, middle.body) == (206, world.b_g[1000:])
    beyond = await gateway.fetch(url, headers={"Range": f"bytes={n}-"})
    assert (beyond.status, beyond.headers["Content-Range"]) == (416, f"bytes */{n}")
    assert world.b_g[:50] not in beyond.body
    several = await gateway.fetch(url, headers={"Range": "bytes=0-9,20-29"})
    assert (several.status, several.body) == (200, world.b_g)
    assert whole.headers["ETag"] == f'"md5-{base64.b64encode(hashlib.md5(world.b_g).digest()).decode()}"'


async def test_med_031_head_mirrors_get_and_other_methods_are_not_allowed(media, world, gateway):
    url = await gateway.stream_url(GREETING)
    got, head = await gateway.fetch(url), await gateway.fetch(url, method="HEAD")
    same = ("Content-Type", "Content-Length", "Accept-Ranges", "ETag")
    assert head.status == got.status == 200
    assert {k: head.headers.get(k) for k in same} == {k: got.headers.get(k) for k in same}
    assert all(got.headers.get(k) for k in same)
    assert head.body == b""
    for method in ("POST", "PUT", "DELETE"):
        refused = await gateway.fetch(url, method=method)
        assert (refused.status, refused.headers.get("Allow")) == (405, "GET, HEAD")


async def test_med_032_document_deleted_after_issue_is_not_found(media, store, world, gateway):
    url = await gateway.stream_url(GREETING)
    doc = await store.get(A_DB, world.greeting_id)
    await store.delete(A_DB, doc["_id"], doc["_rev"])
    assert (await gateway.fetch(url)).status == 404


async def test_med_033_replicas_with_one_secret_accept_each_others_urls(start_media, memory_store, gateway):
    world = await seed_world(memory_store)
    first = await start_media(memory_store, secret="the replicas' secret")
    second = await start_media(memory_store, secret="the replicas' secret")
    url = first.endpoint.url_for(A_DB, world.greeting_id, "greeting.mp3")
    assert url.startswith(first.url)
    fetched = await gateway.fetch(second.url + url[len(first.url):])
    assert (fetched.status, fetched.body) == (200, world.b_g)


async def test_attachment_name_with_reserved_characters_round_trips(media, store, world, gateway):
    data = b"odd name" * 40
    await store.put_attachment(A_DB, "odd", "my greeting/v2 #1.wav", data, content_type="audio/wav", rev=None)
    url = media.endpoint.url_for(A_DB, "odd", "my greeting/v2 #1.wav")
    assert url.endswith("/" + quote("my greeting/v2 #1.wav", safe=""))
    fetched = await gateway.fetch(url)
    assert (fetched.status, fetched.body) == (200, data)


def _rss() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


async def test_50mb_attachment_is_streamed_without_being_held_in_memory(tmp_path):
    """Issue 18: serving 50 MB from SQLite does not grow the process by 50 MB.  Python
    allocations are traced (tracemalloc) and RSS sampled during the transfer."""
    size = 50 * 1024 * 1024
    async with open_store(f"sqlite:///{tmp_path / 'big.sqlite3'}") as store:
        await store.create_db(A_DB)

        async def upload():
            for _ in range(size // (1024 * 1024)):
                yield os.urandom(1024 * 1024)

        await store.put_attachment(A_DB, "big", "big.wav", upload(), content_type="audio/wav", rev=None)
        await store.put_attachment(A_DB, "small", "small.wav", b"x" * 1000, content_type="audio/wav", rev=None)
        endpoint = MediaEndpoint(AudioResolver(store), UrlSigner("s"), base_url=lambda: site.url)
        site = await StandaloneSite(endpoint).start()
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(endpoint.url_for(A_DB, "small", "small.wav")) as warm:
                    await warm.read()
                gc.collect()
                rss_before, rss_peak = _rss(), 0
                tracemalloc.start()
                received, digest = 0, hashlib.sha256()
                started = time.monotonic()
                async with http.get(endpoint.url_for(A_DB, "big", "big.wav")) as response:
                    assert response.status == 200 and response.headers["Content-Length"] == str(size)
                    async for chunk in response.content.iter_chunked(256 * 1024):
                        received += len(chunk)
                        digest.update(chunk)
                        rss_peak = max(rss_peak, _rss())
                elapsed = time.monotonic() - started
                _, traced_peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
        finally:
            await site.stop()
        stored = await store.get_attachment(A_DB, "big", "big.wav")
    assert received == size and digest.digest() == hashlib.sha256(stored).digest()
    print(f"50 MB in {elapsed:.2f} s; traced peak {traced_peak / 1e6:.1f} MB; "
          f"RSS growth {(rss_peak - rss_before) / 1e6:.1f} MB")
    assert traced_peak < 8 * 1024 * 1024, traced_peak
    assert rss_peak - rss_before < 20 * 1024 * 1024, rss_peak - rss_before


async def test_attachment_replaced_mid_stream_cuts_the_response_short(tmp_path, caplog):
    """A GET never completes with a mix of old and new bytes: the connection is cut."""
    size = 24 * 1024 * 1024          # more than the socket buffers between the two sides take
    async with open_store(f"sqlite:///{tmp_path / 'cut.sqlite3'}") as store:
        await store.create_db(A_DB)
        rev = await store.put_attachment(A_DB, "m", "m.wav", os.urandom(size), content_type="audio/wav", rev=None)
        endpoint = MediaEndpoint(AudioResolver(store), UrlSigner("s"), base_url=lambda: site.url)
        site = await StandaloneSite(endpoint).start()
        caplog.set_level(logging.WARNING)
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(endpoint.url_for(A_DB, "m", "m.wav")) as response:
                    received = len(await response.content.readany())
                    await store.put_attachment(A_DB, "m", "m.wav", b"new" * 1000, content_type="audio/wav", rev=rev)
                    try:
                        async for chunk in response.content.iter_chunked(65536):
                            received += len(chunk)
                        cut = False
                    except aiohttp.ClientPayloadError:
                        cut = True
                # the client gone mid-stream does not disturb the next request
                async with http.get(endpoint.url_for(A_DB, "m", "m.wav")) as again:
                    assert await again.read() == b"new" * 1000
        finally:
            await site.stop()
    assert cut and received < size
    assert any("stopped after" in r.getMessage() for r in caplog.records)


async def test_store_down_at_fetch_time_is_503_and_unsupported_storage_is_404(tmp_path):
    from services.store.couch import CouchStore
    from services.store.memory import MemoryStore

    down = CouchStore("http://127.0.0.1:9/")           # nothing listens on the discard port
    external = MemoryStore()
    await external.create_db(A_DB)
    await external.put(A_DB, {"_id": "s3", "pvt_attachments": {"m.mp3": {"handler": {"kz_att_s3": {}}}}})
    sites = []
    try:
        async with aiohttp.ClientSession() as http:
            for store, status in ((down, 503), (external, 404)):
                endpoint = MediaEndpoint(AudioResolver(store, timeout_s=0.5), UrlSigner("s"),
                                         base_url=lambda: sites[-1].url)
                sites.append(await StandaloneSite(endpoint).start())
                started = time.monotonic()
                async with http.get(endpoint.url_for(A_DB, "s3", "m.mp3")) as response:
                    assert response.status == status
                assert time.monotonic() - started < 2.0
    finally:
        for site in sites:
            await site.stop()
        await down.close()
