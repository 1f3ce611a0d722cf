"""What only the SQLite backend does: one file, WAL, indexes rebuilt when views change."""

from __future__ import annotations

import sqlite3

import pytest

from services.store import BadRequest, StoreError, layout, open_store

ACCOUNT_DB = layout.account_db("4fe69c5b61015084f1fe5684abc6e502")


async def test_data_survives_reopening_and_the_file_is_in_wal_mode(tmp_path):
    path = tmp_path / "store.sqlite3"
    async with open_store(f"sqlite:///{path}") as store:
        await store.create_db(ACCOUNT_DB)
        saved = await store.put(ACCOUNT_DB, {"_id": "cf", "pvt_type": "callflow", "numbers": ["2000"]})
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    async with open_store(f"sqlite:///{path}") as store:
        assert await store.get(ACCOUNT_DB, "cf") == saved
        assert await store.callflows_by_number(ACCOUNT_DB, "2000") == ["cf"]


async def test_indexes_are_rebuilt_when_the_views_change(tmp_path):
    path = tmp_path / "store.sqlite3"
    async with open_store(f"sqlite:///{path}") as store:
        await store.create_db(ACCOUNT_DB)
        await store.put(ACCOUNT_DB, {"_id": "cf", "pvt_type": "callflow", "numbers": ["2000"]})
    with sqlite3.connect(path) as conn:  # as left by an older kzvoice
        conn.execute("DELETE FROM view_rows")
        conn.execute("UPDATE meta SET value = 'older' WHERE key = 'views_version'")
    async with open_store(f"sqlite:///{path}") as store:
        assert await store.callflows_by_number(ACCOUNT_DB, "2000") == ["cf"]


async def test_relative_path_is_relative_to_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with open_store("sqlite:///data/kzvoice.sqlite3") as store:
        await store.create_db("accounts")
    assert (tmp_path / "data" / "kzvoice.sqlite3").is_file()


@pytest.mark.parametrize("url", ["sqlite://relative.sqlite3", "sqlite:///", "ftp://x"])
async def test_unusable_urls(url):
    with pytest.raises(BadRequest):
        await open_store(url)


async def test_an_attachment_replaced_during_a_read_is_an_error_not_a_mix(tmp_path):
    async with open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}") as store:
        await store.create_db(ACCOUNT_DB)
        rev = await store.put_attachment(ACCOUNT_DB, "m", "a.mp3", b"1" * 100_000, content_type="audio/mpeg", rev=None)
        chunks = store.stream_attachment(ACCOUNT_DB, "m", "a.mp3", chunk_size=10_000)
        assert await anext(chunks) == b"1" * 10_000
        await store.put_attachment(ACCOUNT_DB, "m", "a.mp3", b"2" * 100_000, content_type="audio/mpeg", rev=rev)
        with pytest.raises(StoreError):
            await anext(chunks)
        await chunks.aclose()


async def test_a_closed_store_refuses_work(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    await store.close()
    await store.close()
    with pytest.raises(StoreError):
        await store.list_dbs()
