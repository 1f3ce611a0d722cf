"""What only the CouchDB backend does: address KAZOO names, retry connections, keep
its views current.  Runs against pouchdb-server (or ``KZ_TEST_COUCH_URL``)."""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from couchdb3 import exceptions as couch_errors
from couchdb3.aio import AsyncDatabase

from services.store import Unavailable, layout, views
from services.store.couch import CouchStore

ACCOUNT_ID = "4fe69c5b61015084f1fe5684abc6e502"
ACCOUNT_DB = layout.account_db(ACCOUNT_ID)


@pytest.fixture
async def couch(couch_url):
    store = await CouchStore.open(couch_url)
    before = set(await store.list_dbs())
    yield store
    for name in set(await store.list_dbs()) - before:
        await store.delete_db(name)
    await store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{port}").geturl()


async def test_kazoo_names_reach_the_server_percent_encoded(couch, couch_url):
    await couch.create_db(ACCOUNT_DB)
    await couch.put(ACCOUNT_DB, {"_id": "+14158867900", "pvt_type": "number"})
    parts = urlsplit(couch_url)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port}"
    async with httpx.AsyncClient(auth=(parts.username, parts.password)) as client:
        response = await client.get(f"{base}/{layout.encode_db_name(ACCOUNT_DB)}/%2B14158867900")
    assert response.status_code == 200 and response.json()["pvt_type"] == "number"

    # couchdb3's own database object puts the name in the path unencoded, which is
    # why the adapter addresses requests itself.
    database = AsyncDatabase(ACCOUNT_DB, url=base, user=parts.username, password=parts.password)
    try:
        with pytest.raises(couch_errors.CouchDBError):
            await database.info()
    finally:
        await database.aclose()


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()

    await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True)


async def test_connection_errors_are_retried_until_the_server_answers(couch_url):
    """The store is opened on a port nobody listens on yet; a forwarder to the real
    server starts listening there half a second later."""
    port = free_port()
    target = urlsplit(couch_url).port
    opening = asyncio.ensure_future(CouchStore.open(with_port(couch_url, port), retry_seconds=15))
    await asyncio.sleep(0.5)
    assert not opening.done()
    forwarder = await asyncio.start_server(lambda r, w: _forward(r, w, target), "127.0.0.1", port)
    try:
        store = await asyncio.wait_for(opening, 15)
        try:
            assert await store.create_db(ACCOUNT_DB) is True
            assert (await store.put(ACCOUNT_DB, {"_id": "doc"}))["_rev"].startswith("1-")
            await store.delete_db(ACCOUNT_DB)
        finally:
            await store.close()
    finally:
        forwarder.close()
        await forwarder.wait_closed()


async def test_an_unreachable_server_gives_unavailable(couch_url):
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Unavailable):
        await CouchStore.open(with_port(couch_url, free_port()), retry_seconds=0.5)
    assert loop.time() - started < 5


async def test_outdated_or_missing_views_are_reinstalled(couch, couch_url):
    await couch.create_db(ACCOUNT_DB)
    await couch.put(ACCOUNT_DB, {"_id": "cf", "pvt_type": "callflow", "numbers": ["2000"]})
    design_path = f"{layout.encode_db_name(ACCOUNT_DB)}/_design/{views.DESIGN_NAME}"
    current = (await couch._send("GET", design_path, what="design")).json()
    outdated = {**current, "kzvoice_views_version": "old",
                "views": {"callflows_by_number": {"map": "function (doc) {}"}}}
    await couch._send("PUT", design_path, body=outdated, what="design")

    fresh = await CouchStore.open(couch_url)  # a new process: checks the views before its first query
    try:
        assert await fresh.callflows_by_number(ACCOUNT_DB, "2000") == ["cf"]
        installed = (await fresh._send("GET", design_path, what="design")).json()
        assert installed["kzvoice_views_version"] == views.VERSION

        await fresh._send("DELETE", design_path, params={"rev": installed["_rev"]}, what="design")
        assert await fresh.callflows_by_number(ACCOUNT_DB, "2000") == ["cf"]  # reinstalled on the 404
    finally:
        await fresh.close()

    assert [row["id"] for row in await couch.all_docs(ACCOUNT_DB)] == ["cf"]  # the design doc is not a document


async def test_ensure_views_installs_in_every_database(couch):
    names = [ACCOUNT_DB, layout.modb(ACCOUNT_ID, 2024, 3), "accounts"]
    for name in names:
        await couch.create_db(name)
        path = f"{layout.encode_db_name(name)}/_design/{views.DESIGN_NAME}"
        design = (await couch._send("GET", path, what="design")).json()
        await couch._send("DELETE", path, params={"rev": design["_rev"]}, what="design")
    await couch.ensure_views()
    for name in names:
        path = f"{layout.encode_db_name(name)}/_design/{views.DESIGN_NAME}"
        assert (await couch._send("GET", path, what="design")).json()["views"].keys() == \
            {view.name for view in views.ALL_VIEWS}


def test_credentials_in_the_url_are_decoded():
    store = CouchStore("http://ad%40min:p%3Ass@127.0.0.1:5984")
    assert (store._server._user, store._server._password) == ("ad@min", "p:ss")
    asyncio.run(store.close())


def spoil_session(couch: CouchStore) -> None:
    """Replace the session cookie by one the server does not know, as after an idle spell."""
    jar = couch._server.session.cookies
    for cookie in list(jar.jar):
        if cookie.name == "AuthSession":
            jar.set("AuthSession", "a3p2b2ljZTo2NUYwMDAwMDoAAAAAAAAAAAAAAAAAAAAAAAAA",
                    domain=cookie.domain, path=cookie.path)
            return
    raise AssertionError("no session cookie to spoil")


async def test_a_session_the_server_no_longer_accepts_is_renewed(couch):
    """CouchDB forgets a session after 10 idle minutes while the client keeps the
    cookie: a stale cookie must lead to a new login, not to failures."""
    await couch.create_db(ACCOUNT_DB)
    await couch.put_attachment(ACCOUNT_DB, "m", "a.mp3", b"abc", content_type="audio/mpeg", rev=None)
    admins_only = "_config" if couch.server_kind == "pouchdb-server" else "_node/_local/_config"
    spoil_session(couch)
    assert (await couch._send("GET", admins_only, what="config")).status_code == 200
    spoil_session(couch)
    assert b"".join([chunk async for chunk in couch.stream_attachment(ACCOUNT_DB, "m", "a.mp3")]) == b"abc"
    # pouchdb-server lets anyone read, so the download may not have logged in again;
    # an admin request does.  (pouchdb-server refuses a database's deletion for good
    # once one was tried with a stale cookie, so the clean-up must not meet one.)
    assert (await couch._send("GET", admins_only, what="config")).status_code == 200
