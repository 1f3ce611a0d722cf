"""``kzvoice import``: KAZOO's fixture tree into SQLite and into a CouchDB-API server."""

from __future__ import annotations

import argparse
import base64
import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from services.store import NotFound, commands, layout, open_store
from services.store.importer import import_tree
from testkit.shared import kazoo_fixtures, reference

from tests.integration.conftest import store_url

ACCOUNT_DB = layout.account_db("4fe69c5b61015084f1fe5684abc6e502")


def fixture_tree() -> Path:
    reference("kazoo-fixtures", "dbs")
    return kazoo_fixtures()


def file_docs(root: Path) -> dict[str, dict[str, dict]]:
    """db name -> doc id -> document, as the files hold them."""
    tree = {}
    for db_dir in sorted((root / "dbs").iterdir()):
        docs = {}
        for path in sorted((db_dir / "docs").glob("*.json")):
            doc = json.loads(path.read_text())
            docs[doc["_id"]] = doc
        tree[layout.normalize_db_name(unquote(db_dir.name))] = docs
    return tree


def without(doc: dict, *keys: str) -> dict:
    return {k: v for k, v in doc.items() if k not in keys}


@pytest.fixture(params=("sqlite", "couch"))
async def target(request, tmp_path):
    async with open_store(store_url(request.param, request, tmp_path)) as store:
        before = set(await store.list_dbs())
        yield store
        for name in set(await store.list_dbs()) - before:
            await store.delete_db(name)


async def quiet_import(store, root: Path):
    lines, errors = [], []
    report = await import_tree(store, root, progress=lines.append, error=errors.append)
    return report, lines, errors


async def test_kazoo_fixtures_import_completely(target):
    root = fixture_tree()
    expected = file_docs(root)
    report, lines, errors = await quiet_import(target, root)

    assert errors == [] and report.errors == []
    assert len(lines) == len(expected)  # one progress line per database
    assert set(expected) <= set(await target.list_dbs())
    stubs_without_data = 0
    for db, docs in expected.items():
        rows = await target.all_docs(db, include_docs=True)
        assert sorted(row["id"] for row in rows) == sorted(docs), db
        for row in rows:
            original = docs[row["id"]]
            assert without(row["doc"], "_rev", "_attachments") == without(original, "_rev", "_attachments")
            # the fixtures leave the bytes out: their stubs cannot be imported
            stubs_without_data += len(original.get("_attachments", {}))
    assert report.total("documents") == sum(len(docs) for docs in expected.values())
    assert report.total("skipped_stubs") == stubs_without_data > 0
    assert report.summary().startswith(f"imported {len(expected)} databases: {report.total('documents')} documents")

    # the imported data answers the queries the services use
    account3 = layout.account_db("account0000000000000000000000003")
    assert [box["_id"] for box in await target.vmboxes_by_mailbox(account3, "3001")] == [
        "vmbox000000000000000000000000003"]
    modb = layout.modb("account0000000000000000000000003", 2017, 10)
    assert [m["_id"] for m in await target.vm_messages(modb, "vmbox000000000000000000000000003", folder="new")] == [
        "201710-vm_message0000000000000000000001"]
    assert await target.find_account_by_realm("4A6863.sip.2600hz.local") == "account0000000000000000000000001"
    assert await target.find_account_by_realm("paustu8.sip.2600hz.local") is None  # accounts 3 and 4 share it


async def test_reimport_changes_nothing_then_updates_what_changed(target, tmp_path):
    root = tmp_path / "dump"
    shutil.copytree(fixture_tree(), root)
    first, _, _ = await quiet_import(target, root)
    account1 = layout.account_db("account0000000000000000000000001")
    revs = {row["id"]: row["rev"] for row in await target.all_docs(account1)}

    again, _, errors = await quiet_import(target, root)
    assert errors == []
    assert again.total("written") == 0
    assert again.total("unchanged") == first.total("documents")
    assert {row["id"]: row["rev"] for row in await target.all_docs(account1)} == revs

    path = root / "dbs" / layout.encode_db_name(account1) / "docs" / "user0000000000000000000000000001.json"
    edited = json.loads(path.read_text())
    edited["first_name"] = "Edited"
    edited["_rev"] = "99-ffffffffffffffffffffffffffffffff"  # a file's _rev is ignored
    path.write_text(json.dumps(edited))
    third, _, errors = await quiet_import(target, root)
    assert errors == [] and third.total("written") == 1
    user = await target.get(account1, "user0000000000000000000000000001")
    assert user["first_name"] == "Edited" and user["_rev"] != revs[user["_id"]]


def write_tree(root: Path, docs: dict[str, str]) -> Path:
    folder = root / "dbs" / layout.encode_db_name(ACCOUNT_DB) / "docs"
    folder.mkdir(parents=True)
    for name, text in docs.items():
        (folder / name).write_text(text)
    return folder


AUDIO = bytes(range(256)) * 20


def sample_tree(root: Path) -> Path:
    return write_tree(root, {
        "good.json": json.dumps({"_id": "good", "_rev": "3-abc", "pvt_type": "user"}),
        "broken.json": '{"_id": "broken", "pvt_type": ',
        "list.json": "[1, 2]",
        "badbase64.json": json.dumps({"_id": "badbase64", "_attachments": {"a.mp3": {
            "content_type": "audio/mpeg", "data": "not base64!"}}}),
        "%2B14158867900.json": json.dumps({"pvt_type": "number"}),  # no _id: taken from the file name
        "media.json": json.dumps({"_id": "media", "pvt_type": "media", "_attachments": {
            "greeting.mp3": {"content_type": "audio/mpeg", "data": base64.b64encode(AUDIO).decode()},
            "left-out.mp3": {"content_type": "audio/mpeg", "stub": True, "length": 10},
        }}),
    })


async def test_bad_files_are_reported_and_nothing_of_them_is_written(target, tmp_path):
    folder = sample_tree(tmp_path)
    report, lines, errors = await quiet_import(target, tmp_path)

    failed = sorted(Path(path).name for path, _ in report.errors)
    assert failed == ["badbase64.json", "broken.json", "list.json"]
    assert any(str(folder / "broken.json") in line and "not valid JSON" in line for line in errors)
    for doc_id in ("broken", "badbase64"):
        with pytest.raises(NotFound):
            await target.get(ACCOUNT_DB, doc_id)
    assert sorted(row["id"] for row in await target.all_docs(ACCOUNT_DB)) == ["+14158867900", "good", "media"]
    assert (await target.get(ACCOUNT_DB, "good"))["_rev"].startswith("1-")  # the file's _rev is ignored

    # inline data became a real attachment; the stub without data was skipped
    assert await target.get_attachment(ACCOUNT_DB, "media", "greeting.mp3") == AUDIO
    assert set((await target.get(ACCOUNT_DB, "media"))["_attachments"]) == {"greeting.mp3"}
    assert (report.total("attachments"), report.total("skipped_stubs")) == (1, 1)
    assert lines == [f"{ACCOUNT_DB}: 3 documents (3 written, 0 unchanged), 1 attachments, "
                     f"1 attachment stubs without data skipped, 3 errors"]

    again, _, _ = await quiet_import(target, tmp_path)
    assert (again.total("written"), again.total("unchanged"), again.total("attachments")) == (0, 3, 1)


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kzvoice")
    subparsers = parser.add_subparsers()
    commands.register_import(subparsers)
    commands.register_db(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


def test_import_command_exit_code_and_output(tmp_path, monkeypatch, capsys):
    sample_tree(tmp_path / "dump")
    store_file = tmp_path / "store.sqlite3"
    monkeypatch.setenv("KZ_STORE_URL", f"sqlite:///{store_file}")

    assert run_command(["import", str(tmp_path / "dump")]) == 1  # some files were bad
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == ("imported 1 databases: 3 documents (3 written, 0 unchanged), 1 attachments, "
                                    "1 attachment stubs without data skipped, 3 errors")
    assert "broken.json" in err and "list.json" in err

    (tmp_path / "dump" / "dbs" / layout.encode_db_name(ACCOUNT_DB) / "docs" / "broken.json").unlink()
    assert run_command(["import", str(tmp_path / "dump" / "dbs")]) == 1  # the dbs folder itself works too
    assert run_command(["import", str(tmp_path / "nowhere")]) == 2

    assert run_command(["db", "init"]) == 0
    assert "store ready" in capsys.readouterr().out


async def test_db_init_creates_system_databases(target):
    await target.init_db()
    assert {"accounts", "system_config"} <= set(await target.list_dbs())
    await target.init_db()  # twice is fine
