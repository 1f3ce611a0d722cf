"""config_svc.writes against the in-memory store: the write procedure of config.md 3.2-3.6."""

import asyncio

import pytest

from config_svc.writes import Writes
from services.store import layout
from services.store.interface import Conflict, Unavailable
from services.store.memory import MemoryStore

SC = layout.SYSTEM_CONFIG_DB
ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"


class Announced:
    """Records what the writer announces (stands in for the bus)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict]] = []

    async def doc_changed(self, action, *, database, doc):
        self.events.append((action, database, doc))


@pytest.fixture
async def store():
    s = MemoryStore()
    yield s
    await s.close()


@pytest.fixture
def announced():
    return Announced()


@pytest.fixture
def writes(store, announced):
    return Writes(store, announced, node="config_svc@unit")


async def test_creates_system_config_db_and_doc(writes, store, announced):
    result = await writes.set_system("callflow", ("k",), 1)
    assert result.status == "success" and result.action == "created"
    doc = await store.get(SC, "callflow")
    assert doc["default"] == {"k": 1}
    assert doc["pvt_type"] == "config" and doc["pvt_account_db"] == doc["pvt_account_id"] == "system_config"
    assert doc["pvt_node"] == "config_svc@unit"
    assert [(a, db) for a, db, _ in announced.events] == [("created", "system_config")]
    assert announced.events[0][2]["_rev"] == doc["_rev"]


async def test_identical_value_is_not_saved(writes, store, announced):
    await writes.set_system("c", ("k",), 1)
    rev = (await store.get(SC, "c"))["_rev"]
    result = await writes.set_system("c", ("k",), 1)
    assert result.status == "success" and not result.changed
    assert (await store.get(SC, "c"))["_rev"] == rev and len(announced.events) == 1


async def test_deleting_from_a_missing_doc_creates_nothing(writes, store, announced):
    result = await writes.set_system("nothing", ("k",), None)
    assert result.status == "success" and not result.changed
    assert announced.events == []


async def test_pvt_created_kept_on_edit(writes, store):
    await store.create_db(SC)
    await store.put(SC, {"_id": "c", "default": {}, "pvt_created": 63000000000})
    await writes.set_system("c", ("k",), 1)
    doc = await store.get(SC, "c")
    assert doc["pvt_created"] == 63000000000 and doc["pvt_modified"] > 63000000000


async def test_locked_writes_nothing(store, announced):
    writes = Writes(store, announced, node="n", locked=True)
    assert (await writes.set_system("c", ("k",), 1)).status == "locked"
    assert not await store.db_exists(SC) and announced.events == []


class RacingStore(MemoryStore):
    """Another writer changes the document between our read and our save, the first N times."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    async def put(self, db, doc):
        if self.races and "_rev" in doc:
            self.races -= 1
            current = await self.get(db, doc["_id"])
            current["default"]["other"] = self.races
            await super().put(db, current)
        return await super().put(db, doc)


async def test_conflict_is_re_read_and_re_applied(announced):
    store = RacingStore(races=3)
    writes = Writes(store, announced, node="n")
    await writes.set_system("c", ("k",), 0)
    result = await writes.set_system("c", ("k",), 5)
    assert result.status == "success"
    assert (await store.get(SC, "c"))["default"] == {"k": 5, "other": 0}


async def test_endless_conflicts_are_an_error(announced):
    class AlwaysConflict(MemoryStore):
        async def put(self, db, doc):
            if "_rev" in doc:
                raise Conflict("always")
            return await super().put(db, doc)
    store = AlwaysConflict()
    writes = Writes(store, announced, node="n", max_attempts=3)
    await writes.set_system("c", ("k",), 0)
    result = await writes.set_system("c", ("k",), 1)
    assert result.status == "error" and "conflict" in result.error


async def test_store_down_is_an_error_not_a_success(announced):
    class Down(MemoryStore):
        async def get(self, db, doc_id):
            raise Unavailable("connection refused")
    result = await Writes(Down(), announced, node="n").set_system("c", ("k",), 1)
    assert result.status == "error" and "connection refused" in result.error
    assert announced.events == []


async def test_concurrent_writers_in_one_process(writes, store):
    await asyncio.gather(*(writes.set_system("c", (f"k{i}",), i) for i in range(30)))
    assert (await store.get(SC, "c"))["default"] == {f"k{i}": i for i in range(30)}


async def test_account_write_needs_the_account_db(writes, store, announced):
    result = await writes.set_account(ACCOUNT, "callflow", ("k",), 1)
    assert result.status == "error" and ACCOUNT in result.error
    await store.create_db(layout.account_db(ACCOUNT))
    result = await writes.set_account(ACCOUNT, "callflow", ("k",), 1)
    assert result.status == "success" and result.action == "created"
    doc = await store.get(layout.account_db(ACCOUNT), "configs_callflow")
    assert doc["k"] == 1 and doc["pvt_type"] == "account_config" and doc["pvt_account_id"] == ACCOUNT
    assert doc["pvt_account_db"] == layout.account_db(ACCOUNT, encoded=True)
    assert announced.events[-1][:2] == ("created", layout.account_db(ACCOUNT, encoded=True))
