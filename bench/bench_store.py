"""Store throughput per backend: gets, puts and queries per second.

Run with ``python -m bench.bench_store [--quick] [--couch-url URL]``.

Measures, one operation at a time (as a call handler does), on each backend:
``get`` of a KAZOO-size device document, ``put`` of a new one, ``bulk_put`` of 100
documents (per document), and the two queries on a route's path,
``callflows_by_number`` and ``vmboxes_by_mailbox``, in an account database holding
200 callflows, 200 boxes and 200 devices.  The CouchDB backend runs against
pouchdb-server started in memory as the tests start it (or ``--couch-url``).
Each figure is the median over the repeats, with the spread (min–max) beside it;
compare ratios within one run.  A measurement, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.common import Result, add_common_arguments, run_module, spread
from services.store import Store, layout, open_store
from testkit.couch import PouchDBServer, PouchDBServerError

ACCOUNT_ID = "4fe69c5b61015084f1fe5684abc6e502"
DB = layout.account_db(ACCOUNT_ID)
SIZE = 200


def device(i: int) -> dict:
    """A device document of about 1 KB, shaped like KAZOO's."""
    return layout.stamp({
        "_id": f"device{i:026d}", "name": f"Desk phone {i}", "device_type": "sip_device", "enabled": True,
        "owner_id": f"user{i % 50:028d}", "mac_address": f"00:04:f2:{i % 256:02x}:{i // 256 % 256:02x}:01",
        "sip": {"username": f"user_{i}", "password": "s3cr3t-p4ssw0rd", "method": "password",
                "invite_format": "contact", "expire_seconds": 300, "realm": "acme.example.com"},
        "caller_id": {"internal": {"name": f"Desk {i}", "number": str(1000 + i)},
                      "external": {"name": "Acme Widgets", "number": "+14158867900"}},
        "media": {"audio": {"codecs": ["PCMU", "PCMA", "OPUS"]}, "video": {"codecs": []},
                  "encryption": {"enforce_security": False, "methods": []}},
        "call_restriction": {"international": {"action": "deny"}, "tollfree_us": {"action": "inherit"}},
        "music_on_hold": {}, "ringtones": {}, "suppress_unregister_notifications": False,
        "provision": {"endpoint_brand": "yealink", "endpoint_family": "t4x", "endpoint_model": "t46s"},
    }, pvt_type="device", db=DB, now=63876877623)


def seed_docs() -> list[dict]:
    docs = [device(i) for i in range(SIZE)]
    docs += [{"_id": f"callflow{i:024d}", "pvt_type": "callflow", "numbers": [str(2000 + i), f"+1415555{i:04d}"],
              "patterns": [], "flow": {"module": "device", "data": {"id": f"device{i:026d}"}}} for i in range(SIZE)]
    docs += [{"_id": f"vmbox{i:027d}", "pvt_type": "vmbox", "mailbox": str(3000 + i), "pin": "1234",
              "owner_id": f"user{i % 50:028d}"} for i in range(SIZE)]
    return docs


async def rate(operation: Callable[[int], Awaitable[object]], count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        await operation(i)
    return count / (time.perf_counter() - started)


async def measure(store: Store, *, count: int, repeats: int) -> dict[str, list[float]]:
    await store.create_db(DB)
    results = await store.bulk_put(DB, seed_docs())
    assert all(r.ok for r in results)
    picks = random.Random(7)
    figures: dict[str, list[float]] = {name: [] for name in
                                       ("get", "put", "bulk_put (per doc)", "callflows_by_number",
                                        "vmboxes_by_mailbox")}
    await store.callflows_by_number(DB, "2000")  # a first query may build an index
    await store.vmboxes_by_mailbox(DB, "3000")
    for repeat in range(repeats):
        figures["get"].append(await rate(
            lambda i: store.get(DB, f"device{picks.randrange(SIZE):026d}"), count))
        figures["put"].append(await rate(
            lambda i: store.put(DB, {**device(i), "_id": f"new-{repeat}-{i}"}), count))
        batch = [{**device(i), "_id": f"bulk-{repeat}-{i}"} for i in range(100)]
        started = time.perf_counter()
        await store.bulk_put(DB, batch)
        figures["bulk_put (per doc)"].append(len(batch) / (time.perf_counter() - started))
        figures["callflows_by_number"].append(await rate(
            lambda i: store.callflows_by_number(DB, str(2000 + picks.randrange(SIZE))), count))
        figures["vmboxes_by_mailbox"].append(await rate(
            lambda i: store.vmboxes_by_mailbox(DB, str(3000 + picks.randrange(SIZE))), count))
    await store.delete_db(DB)
    return figures


async def bench_backend(url: str, *, count: int, repeats: int) -> dict[str, list[float]]:
    async with open_store(url) as store:
        return await measure(store, count=count, repeats=repeats)


def collect(args) -> Result:
    count, repeats = (100, 3) if args.quick else (500, 5)
    result = Result()
    with tempfile.TemporaryDirectory(prefix="kzvoice-bench-") as folder:
        backends = [("memory", "memory://"), ("sqlite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}")]
        server = None
        if args.couch_url:
            backends.append(("couch", args.couch_url))
        else:
            server = PouchDBServer()
            try:
                backends.append(("couch", server.start()))
            except PouchDBServerError as exc:
                print(f"couch: not measured: {exc}")
                server = None
        try:
            for name, url in backends:
                figures = asyncio.run(bench_backend(url, count=count, repeats=repeats))
                for operation, values in figures.items():
                    result.add("store", f"{name}: {operation} ops/s", spread(values, "{:,.0f}"),
                               note=f"{repeats} rounds of {count} operations one at a time; {SIZE} callflows, "
                                    "boxes and devices in the database" if (name, operation) == ("memory", "get")
                               else "")
        finally:
            if server is not None:
                server.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_store", description=__doc__.splitlines()[0])
    parser.add_argument("--couch-url", help="a CouchDB to measure instead of a fresh pouchdb-server")
    add_common_arguments(parser)
    return run_module(collect, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
