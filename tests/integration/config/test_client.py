"""config.md section 7, CFG-050 ... CFG-060: flush_req, the config client's cache and typed getters."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from services.bus import Bus
from services.bus.amqp import AmqpTransport
from services.config import keys
from services.config.client import ConfigClient
from services.store import layout
from tests.integration.config.conftest import get_doc, put_doc, system_doc
from tests.integration.config.test_account import ACCOUNT, account_config, reseller_tree

SC = layout.SYSTEM_CONFIG_DB
CLIENT_NODE = "callflow_svc@test"


@pytest.fixture
async def make_client(amqp_url, validator):
    made = []

    async def make(**options) -> ConfigClient:
        bus = Bus(AmqpTransport(amqp_url), validator, app_name="callflow_svc", node=CLIENT_NODE)
        await bus.start()
        client = await ConfigClient(bus, **options).start()
        made.append((client, bus))
        return client

    yield make
    for client, bus in made:
        await client.close()
        await bus.close()


@pytest.fixture
async def client(config_svc, make_client):
    return await make_client()


async def eventually(read, expected, within: float = 2.0):
    """Poll ``read()`` until it returns ``expected``; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await read()
        if value == expected:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {within}s, expected {expected!r}")
        await asyncio.sleep(0.02)


async def publish_flush(probe, category: str, **fields) -> None:
    await probe.send_raw(probe.envelope("flush_req", Category=category, **fields))


async def test_cfg_050_flush_req_gets_no_reply(config_svc, probe, store):
    await system_doc(store, "c50", default={"k": 1})
    assert (await probe.get("c50", "k"))["Value"] == 1
    await system_doc(store, "c50", default={"k": 2})
    await publish_flush(probe, "c50")
    await publish_flush(probe, "c50", Key="k")
    assert (await probe.get("c50", "k"))["Value"] == 2
    await probe.quiet()
    assert [r["Event-Name"] for r in probe.replies()] == ["get_resp", "get_resp"]


async def test_cfg_051_system_change_reaches_a_running_client(client, probe, store):
    await system_doc(store, "callflow", default={"route_win_timeout": 3000})
    assert await client.get_integer("callflow", "route_win_timeout", 3000) == 3000
    requests = client.stats.requests
    # served from the cache from now on: a direct edit (no event) is not seen
    await system_doc(store, "callflow", default={"route_win_timeout": 1})
    assert await client.get_integer("callflow", "route_win_timeout", 3000) == 3000
    assert client.stats.requests == requests
    assert (await probe.set("callflow", "route_win_timeout", 2500))["Status"] == "success"
    await eventually(lambda: client.get_integer("callflow", "route_win_timeout", 3000), 2500)


async def test_cfg_052_account_change_evicts_global_result(client, probe, store):
    await reseller_tree(store)
    await account_config(store, ACCOUNT, "c52", k="a")
    await system_doc(store, "c52", default={"k": "s"})
    assert await client.get("c52", "k", account=ACCOUNT) == "a"
    await account_config(store, ACCOUNT, "c52", k="direct")            # no event: still cached
    assert await client.get("c52", "k", account=ACCOUNT) == "a"
    assert (await probe.set("c52", "k", "b", **{"Account-ID": ACCOUNT}))["Status"] == "success"
    await eventually(lambda: client.get("c52", "k", account=ACCOUNT), "b")


async def test_cfg_053_system_change_evicts_merged_result(client, probe, store):
    await reseller_tree(store)
    await account_config(store, ACCOUNT, "c53", o={"z": 3})
    await system_doc(store, "c53", default={"o": {"x": 1}})
    read = lambda: client.get("c53", "o", account=ACCOUNT, strategy="hierarchy_merge")  # noqa: E731
    assert await read() == {"x": 1, "z": 3}
    assert (await probe.set("c53", ["o", "x"], 9))["Status"] == "success"
    await eventually(read, {"x": 9, "z": 3})


async def test_cfg_054_flush_req_drops_client_cache(client, probe, store):
    await system_doc(store, "c54", default={"k": 1})
    assert await client.get("c54", "k") == 1
    await system_doc(store, "c54", default={"k": 2})                   # direct edit, no event
    await asyncio.sleep(0.2)
    assert await client.get("c54", "k") == 1
    await publish_flush(probe, "c54", Key="k")
    await eventually(lambda: client.get("c54", "k"), 2)


async def stored_values(store, category: str, values: list) -> list[str]:
    keys_ = [f"v{i}" for i in range(len(values))]
    await system_doc(store, category, default=dict(zip(keys_, values)))
    return keys_


async def test_cfg_055_get_is_true(client, store):
    names = await stored_values(store, "c55", [True, "true", "TRUE", 1, "yes"])
    assert [await client.get_is_true("c55", k) for k in names] == [True, True, False, False, False]
    assert await client.get_is_true("c55", "missing", True) is True


async def test_cfg_056_get_integer(client, store, caplog):
    names = await stored_values(store, "c56", ["25", 2.6, "abc", None])
    with caplog.at_level(logging.WARNING, logger="services.config.client"):
        assert [await client.get_integer("c56", k, 100) for k in names] == [25, 3, 100, 100]
    warned = [r.getMessage() for r in caplog.records if r.name == "services.config.client"]
    assert len(warned) == 2 and "'abc'" in warned[0] and "None" in warned[1]


async def test_cfg_057_get_non_neg_integer(client, store):
    values = ["5000", -1, 0, 2500]
    for i, value in enumerate(values):
        await system_doc(store, f"c57-{i}", default={"voicemail": {"seek_duration_ms": value}})
    results = [await client.get_non_neg_integer(f"c57-{i}", ["voicemail", "seek_duration_ms"], 10000)
               for i in range(len(values))]
    assert results == [10000, 10000, 0, 2500]


async def test_cfg_058_get_ne_binary(client, store):
    names = await stored_values(store, "c58", ["", "0", None, 9])
    assert [await client.get_ne_binary("c58", k, "0") for k in names] == ["0", "0", "0", "9"]


async def test_cfg_059_mailbox_limit_default_persists(client, store):
    await reseller_tree(store)
    await account_config(store, ACCOUNT, "callflow", voicemail={"extension": "wav"})
    await system_doc(store, "callflow", default={"voicemail": {"extension": "mp3"}})
    assert await keys.max_message_count(client, ACCOUNT) == 100
    stored = await get_doc(store, SC, "callflow")
    assert stored["default"]["voicemail"] == {"extension": "mp3", "max_message_count": 100}


@pytest.mark.parametrize("system, account, expected", [
    (False, True, False),
    (True, "false", False),
    (None, None, True),
])
async def test_cfg_060_unsolicited_mwi_needs_both(client, store, system, account, expected):
    await reseller_tree(store)
    await system_doc(store, "callflow", default={} if system is None else {"mwi_send_unsolicited_updates": system})
    own = {} if account is None else {"mwi_send_unsolicited_updates": account}
    await account_config(store, ACCOUNT, "callflow", **own)
    assert await keys.mwi_send_unsolicited_updates(client, ACCOUNT) is expected


async def test_client_reads_a_stored_empty_string_without_waiting(client, store):
    """CFG-013's ``"Value": ""`` reaches the client (not dropped as an empty required value)."""
    await system_doc(store, "c13c", default={"singular_call_hook_url": ""})
    started = time.monotonic()
    assert await client.get_binary("c13c", "singular_call_hook_url", "") == ""
    assert await client.get_ne_binary("c13c", "singular_call_hook_url", "none") == "none"
    assert time.monotonic() - started < 1.0 and client.stats.timeouts == 0
