"""services.config.client without a broker: caching, eviction rules (config.md 5.3), fallbacks."""

import asyncio

import pytest

from services.bus import RequestTimeout
from services.bus.memory import MemoryTransport
from services.config.client import ConfigClient
from services.messages import catalogue

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
ACCOUNT_DB = "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"


class FakeBus:
    node = "callflow_svc@unit"

    def __init__(self) -> None:
        self.transport = MemoryTransport()


class Replies:
    """Answers get_reqs from a dict (category, key) -> value, recording what was asked."""

    def __init__(self, values: dict) -> None:
        self.values = values
        self.asked: list[dict] = []
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def request(self, spec, fields, *, timeout):
        assert spec is catalogue.get("sysconf.get_req")
        self.asked.append(dict(fields))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RequestTimeout(spec, timeout)
        key = fields["Key"] if isinstance(fields["Key"], str) else tuple(fields["Key"])
        value = self.values.get((fields["Category"], key), fields.get("Default", "undefined"))
        return {"Value": value}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def replies():
    return Replies({("callflow", "route_win_timeout"): 3000, ("c", "k"): 1})


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def client(replies, clock):
    c = ConfigClient(FakeBus(), clock=clock, system_ttl=10, account_ttl=10, not_found_ttl=5)
    c._replies = replies
    return c


async def test_request_fields_and_cache_hit(client, replies):
    assert await client.get_integer("callflow", "route_win_timeout", 3000) == 3000
    assert await client.get_integer("callflow", "route_win_timeout", 3000) == 3000
    assert replies.asked == [{"Category": "callflow", "Key": "route_win_timeout", "Node": "callflow_svc@unit",
                              "Default": 3000}]
    assert (client.stats.hits, client.stats.requests) == (1, 1)


async def test_account_request_carries_account_and_strategy(client, replies):
    await client.get("c", ["a", "b"], account=ACCOUNT_DB)
    assert replies.asked[-1]["Account-ID"] == ACCOUNT and replies.asked[-1]["Strategy"] == "global"
    assert replies.asked[-1]["Key"] == ["a", "b"]


async def test_account_strategy_without_account_is_the_default(client, replies):
    assert await client.get("c", "k", 5, strategy="account") == 5
    assert replies.asked == []


async def test_ttl_expiry_refetches(client, replies, clock):
    await client.get("c", "k")
    clock.now = 11
    await client.get("c", "k")
    assert len(replies.asked) == 2


async def test_timeout_uses_stale_value_then_default(client, replies, clock, caplog):
    assert await client.get("c", "k") == 1
    clock.now = 100                        # expired
    replies.fail = True
    assert await client.get("c", "k") == 1
    assert await client.get("c", "unknown", "d") == "d"
    assert client.stats.timeouts == 2


def event(name, database, doc_id, doc_type=None):
    return {"Event-Name": name, "Database": database, "ID": doc_id, "Type": doc_type}


async def fill(client):
    await client.get("c", "k")
    await client.get("c", "k", account=ACCOUNT)
    await client.get("callflow", "route_win_timeout")
    await client.get("callflow", "route_win_timeout", account=ACCOUNT, strategy="hierarchy_merge")


async def test_system_doc_change_drops_every_entry_of_the_category(client):
    await fill(client)
    assert client.apply_change(event("doc_edited", "system_config", "c", "config")) == 2
    assert {k[0] for k in client._cache} == {"callflow"}


async def test_account_config_change_drops_account_entries_of_the_category(client):
    await fill(client)
    assert client.apply_change(event("doc_edited", ACCOUNT_DB, "configs_callflow", "account_config")) == 1
    assert ("callflow", ("route_win_timeout",), "callflow_svc@unit", None, None) in client._cache


async def test_account_doc_change_drops_all_account_entries(client):
    await fill(client)
    assert client.apply_change(event("doc_edited", ACCOUNT_DB, ACCOUNT, "account")) == 2
    assert all(k[3] is None for k in client._cache)


async def test_account_db_deleted_drops_that_account(client):
    await fill(client)
    assert client.apply_change({"Event-Name": "db_deleted", "Database": ACCOUNT_DB}) == 2


async def test_unrelated_event_drops_nothing(client):
    await fill(client)
    assert client.apply_change(event("doc_edited", ACCOUNT_DB, "some_callflow", "callflow")) == 0


async def test_flush_by_category(client):
    await fill(client)
    assert client.flush("callflow") == 2 and client.flush() == 2


async def test_reconnect_drops_everything(client, replies):
    await fill(client)
    client._bus.transport._tell_reconnected()      # what the transport does once its topology is back
    await client.get("c", "k")
    assert len(replies.asked) == 5          # refetched after the reconnect


async def test_result_of_a_request_overtaken_by_an_event_is_not_cached(client, replies):
    replies.gate = asyncio.Event()
    task = asyncio.create_task(client.get("c", "k"))
    await asyncio.sleep(0)
    client.apply_change(event("doc_edited", "system_config", "c", "config"))
    replies.gate.set()
    assert await task == 1
    assert client._cache == {}


async def test_concurrent_reads_share_one_request(client, replies):
    replies.gate = asyncio.Event()
    tasks = [asyncio.create_task(client.get("c", "k")) for _ in range(10)]
    await asyncio.sleep(0)
    replies.gate.set()
    assert await asyncio.gather(*tasks) == [1] * 10
    assert len(replies.asked) == 1


async def test_unknown_strategy_is_refused(client):
    with pytest.raises(ValueError):
        await client.get("c", "k", account=ACCOUNT, strategy="global_merge")
