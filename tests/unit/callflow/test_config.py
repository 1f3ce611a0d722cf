"""CallflowConfig keeps what the route path reads on every route_req between the client's flushes."""

from __future__ import annotations

from dataclasses import dataclass

from callflow_svc.config import CallflowConfig


@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class Client:
    """A config client stand-in: ``values`` by key; reads of keys in ``uncached`` count as misses."""

    def __init__(self, **values) -> None:
        self.values = values
        self.uncached: set[str] = set()
        self.stats = Stats()
        self.reads = 0

    def _read(self, key, default):
        self.reads += 1
        if key in self.uncached:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return self.values.get(key, default)

    async def get_integer(self, category, key, default=None, **where):
        return self._read(key, default)

    async def get(self, category, key, default=None, **where):
        return self._read((key, where.get("account")), default)

    def flush(self) -> None:
        self.stats.evictions += 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_repeated_reads_are_kept():
    client = Client(route_win_timeout=2000)
    config = CallflowConfig(client, clock=Clock())
    assert [await config.route_win_timeout_ms() for _ in range(5)] == [2000] * 5
    assert client.reads == 1


async def test_a_flush_is_seen_by_the_next_read():
    client = Client(route_win_timeout=2000)
    config = CallflowConfig(client, clock=Clock())
    await config.route_win_timeout_ms()
    client.values["route_win_timeout"] = 1000
    client.flush()                         # what a change event does in the client
    assert await config.route_win_timeout_ms() == 1000


async def test_kept_one_second_at_most():
    client, clock = Client(route_win_timeout=2000), Clock()
    config = CallflowConfig(client, clock=clock)
    await config.route_win_timeout_ms()
    client.values["route_win_timeout"] = 1000      # changed without an event: the client's own TTL rules
    clock.now += 0.5
    assert await config.route_win_timeout_ms() == 2000
    clock.now += 0.6
    assert await config.route_win_timeout_ms() == 1000


async def test_values_the_client_had_to_fetch_are_not_kept():
    client = Client(route_win_timeout=2000)
    client.uncached.add("route_win_timeout")
    config = CallflowConfig(client, clock=Clock())
    await config.route_win_timeout_ms()
    await config.route_win_timeout_ms()
    assert client.reads == 2


async def test_per_account_values():
    converters_a = {"^(\\d{4})$": {"prefix": "+4930"}}
    client = Client(**{})
    client.values[("e164_converters", "a")] = converters_a
    config = CallflowConfig(client, clock=Clock())
    assert await config.e164_converters("a") is converters_a
    assert await config.e164_converters("a") is converters_a
    assert await config.e164_converters("b") != converters_a
    assert client.reads == 2


async def test_a_client_without_stats_is_read_every_time():
    class Bare:
        reads = 0

        async def get_integer(self, category, key, default=None, **where):
            Bare.reads += 1
            return 7
    config = CallflowConfig(Bare())
    assert await config.route_win_timeout_ms() == await config.route_win_timeout_ms() == 7
    assert Bare.reads == 2
