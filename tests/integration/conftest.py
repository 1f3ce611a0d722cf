"""Store backends for the integration tests (one CouchDB-API server for the whole run).

``couch_url`` is a CouchDB-API server: pouchdb-server started in memory for the
test session (``npm install`` in the repository root installs it), or the server
named by ``KZ_TEST_COUCH_URL`` (``http://admin:pass@host:5984``; give it an empty
server: the tests create and delete databases such as ``accounts`` there; with it, run the
suite in one process, ``make test TEST_WORKERS=0``).  Under pytest-xdist every worker starts
its own pouchdb-server.  A
missing pouchdb-server fails the tests that need it, saying what to install.
"""

from __future__ import annotations

import os

import pytest

from services.store import open_store
from testkit.couch import PouchDBServer, PouchDBServerError

BACKENDS = ("memory", "sqlite", "couch")


@pytest.fixture(scope="session")
def couch_url():
    url = os.environ.get("KZ_TEST_COUCH_URL")
    if url:
        if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
            pytest.fail("KZ_TEST_COUCH_URL names one server, which parallel workers would share (both "
                        "create `accounts` there): run the suite in one process (make test TEST_WORKERS=0)",
                        pytrace=False)
        yield url
        return
    server = PouchDBServer()
    try:
        server.start()
    except PouchDBServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


def store_url(backend: str, request: pytest.FixtureRequest, tmp_path) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"  # absolute path: four slashes
    return request.getfixturevalue("couch_url")


@pytest.fixture(params=BACKENDS)
async def store(request, tmp_path):
    """An empty store of each backend; on CouchDB, the databases a test creates are
    deleted after it."""
    async with open_store(store_url(request.param, request, tmp_path)) as opened:
        before = set(await opened.list_dbs())
        yield opened
        for name in set(await opened.list_dbs()) - before:
            await opened.delete_db(name)
