"""Media: media_req -> media_resp, and streaming an attachment, beside raw baselines in one run.

Run with ``python -m bench.bench_media [--quick] [--amqp-url URL]`` against a
RabbitMQ broker (``KZ_AMQP_URL``); a vhost of its own is made for the run when
the broker can be administered.

The serving side runs in a process of its own (``--serve``), as a media server
does: config_svc, the media responder and the ``/media/`` HTTP routes on an
SQLite store (the default backend) holding the system prompts, an account and
a 1 MB and a 50 MB attachment; beside them the two baselines -- a bare aio-pika
responder (decode the JSON, publish a fixed reply, ack) and a plain aiohttp file
handler (``web.FileResponse``) serving the same bytes from files on disk.  This
process is the gateway: it sends media_req with raw aio-pika and fetches with
aiohttp.

Measures, in rounds interleaved so that drift on a shared machine hits both sides alike:

* **media_req -> media_resp** p50 and p99, one request in flight, for
  ``prompt://<account>/<prompt>/en-us`` names (prompt lookup in the account and in
  system_media, the document read, a signed URL), against the raw responder.
  Target: p50 <= 1.2x raw;
* **stream throughput** (MB/s) and **time to first byte** for the 1 MB and the
  50 MB attachment, against the file handler.  Target: throughput >= 0.8x;
* **200 concurrent GETs** of the 50 MB attachment, each client stopped after its
  first chunk: the serving process's RSS growth per open stream, beside the file
  handler's.

A measurement, not a test: it exits 0 unless the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
import aiohttp
import orjson

from bench.common import (ROOT, Result, add_common_arguments, amqp_url_default, median, own_vhost, pct, rss_bytes,
                          run_module, spread, verdict)

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
PROMPTS = ("vm-enter_pass", "vm-you_have", "vm-main_menu", "vm-message_menu", "vm-goodbye", "vm-saved")
RAW_KEY = "media_req_raw"
SIZES = {"1 MB": 1024 * 1024, "50 MB": 50 * 1024 * 1024}
CONCURRENT = 200
TARGET_LATENCY = 1.2
TARGET_THROUGHPUT = 0.8


# ---- the serving process (--serve DIR) -----------------------------------------------------------


async def serve(url: str, folder: Path) -> None:
    from aiohttp import web

    from config_svc.app import build as build_config
    from services.config.client import ConfigClient
    from services.media.audio import AudioResolver
    from services.media.endpoint import MediaEndpoint, StandaloneSite
    from services.media.prompts import PromptLookup
    from services.media.responder import MediaResponder
    from services.media.seeding import PromptVoice, seed_prompts
    from services.media.signer import UrlSigner
    from services.runtime import ServiceContext, settle_heap
    from services.settings import Settings
    from services.store import layout, open_store

    store = await open_store(f"sqlite:///{folder / 'media.sqlite3'}")
    account_db = layout.account_db(ACCOUNT)
    for db in (layout.SYSTEM_CONFIG_DB, layout.ACCOUNTS_DB, account_db):
        await store.create_db(db)
    await store.put(account_db, layout.stamp({"_id": ACCOUNT, "name": "bench", "pvt_reseller_id": ACCOUNT},
                                             pvt_type="account", db=account_db))
    await seed_prompts(store, voice=PromptVoice(espeak=None))
    urls = {}
    settings = Settings(amqp_url=url, store_url="sqlite://", node="media@bench")
    context = ServiceContext(settings, store=store)
    config_svc = build_config(context)
    await config_svc.start()
    bus = await context.bus("voicemail")
    config = await ConfigClient(bus).start()
    resolver = AudioResolver(store)
    endpoint = MediaEndpoint(resolver, UrlSigner("bench secret"), base_url=lambda: site.url, ttl_s=86400)
    site = await StandaloneSite(endpoint).start()
    responder = await MediaResponder(bus, resolver, endpoint, PromptLookup(store, config)).start()

    for label, size in SIZES.items():
        name = f"{size // (1024 * 1024)}mb.wav"
        path = folder / name
        with path.open("wb") as out:              # the same bytes on disk and in the store
            for _ in range(size // (1024 * 1024)):
                out.write(os.urandom(1024 * 1024))

        async def chunks(path=path):
            with path.open("rb") as source:
                while block := source.read(1024 * 1024):
                    yield block

        await store.put_attachment(account_db, f"big-{name}", name, chunks(), content_type="audio/wav", rev=None)
        urls[label] = {"kzvoice": endpoint.url_for(account_db, f"big-{name}", name)}

    app = web.Application()

    async def plain_file(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(folder / request.match_info["name"])

    app.router.add_get("/file/{name}", plain_file)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    plain = web.TCPSite(runner, "127.0.0.1", 0)
    await plain.start()
    port = plain._server.sockets[0].getsockname()[1]
    for label, size in SIZES.items():
        urls[label]["plain"] = f"http://127.0.0.1:{port}/file/{size // (1024 * 1024)}mb.wav"

    raw = await aio_pika.connect(url)
    channel = await raw.channel()
    kapps = await channel.declare_exchange("kapps", "topic", durable=False)
    targeted = await channel.declare_exchange("targeted", "direct", durable=False)
    raw_queue = await channel.declare_queue(f"bench-media-raw-{uuid.uuid4().hex[:8]}", exclusive=True,
                                            auto_delete=True, arguments={"x-max-length": 100,
                                                                         "x-message-ttl": 60000})
    await raw_queue.bind(kapps, RAW_KEY)
    fixed_url = urls["1 MB"]["kzvoice"]

    async def on_raw(message) -> None:
        request = orjson.loads(message.body)
        reply = {"Event-Category": "media", "Event-Name": "media_resp", "App-Name": "raw", "App-Version": "1",
                 "Msg-ID": request["Msg-ID"], "Media-Name": request["Media-Name"], "Stream-URL": fixed_url}
        await targeted.publish(aio_pika.Message(orjson.dumps(reply), content_type="application/json"),
                               routing_key=request["Server-ID"])
        await message.ack()

    await raw_queue.consume(on_raw)
    settle_heap(settings.gc_gen0)
    print(json.dumps({"pid": os.getpid(), "urls": urls}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)     # until the parent is done
    print(f"serving process: {responder.answered} media_req answered, {responder.answers.hits} from remembered "
          f"answers, {responder.answers.flushes} flushes", file=sys.stderr, flush=True)
    await raw.close()
    await responder.stop(2.0)
    await config.close()
    await site.stop()
    await runner.cleanup()
    await config_svc.stop(2.0)
    await context.close()           # a store given to the context is closed below, by its owner
    await store.close()


# ---- the gateway side -------------------------------------------------------------------------------


class Requester:
    """media_req over raw aio-pika, replies on our own queue matched by Msg-ID."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._waiting: dict[str, asyncio.Future] = {}

    async def start(self) -> "Requester":
        self._conn = await aio_pika.connect(self._url)
        channel = await self._conn.channel()
        self._kapps = await channel.declare_exchange("kapps", "topic", durable=False)
        targeted = await channel.declare_exchange("targeted", "direct", durable=False)
        self._queue = await channel.declare_queue(f"bench-media-gw-{uuid.uuid4().hex[:8]}", exclusive=True,
                                                  auto_delete=True)
        await self._queue.bind(targeted, self._queue.name)
        await self._queue.consume(self._on_reply, no_ack=True)
        return self

    async def _on_reply(self, message) -> None:
        reply = orjson.loads(message.body)
        future = self._waiting.pop(reply.get("Msg-ID"), None)
        if future is not None and not future.done():
            future.set_result(reply)

    async def ask(self, media_name: str, key: str) -> tuple[float, dict]:
        msg_id = os.urandom(8).hex()
        body = orjson.dumps({"Event-Category": "media", "Event-Name": "media_req", "App-Name": "ecallmgr",
                             "App-Version": "5.0.0", "Msg-ID": msg_id, "Server-ID": self._queue.name,
                             "Call-ID": "bench-call", "Media-Name": media_name, "Stream-Type": "new"})
        future = self._waiting[msg_id] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await self._kapps.publish(aio_pika.Message(body, content_type="application/json"), routing_key=key)
        reply = await asyncio.wait_for(future, 5)
        return time.perf_counter() - started, reply

    async def close(self) -> None:
        await self._conn.close()


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[float, float, int]:
    """(time to first byte, total seconds, bytes)."""
    started = time.perf_counter()
    first = None
    count = 0
    async with http.get(url) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_chunked(256 * 1024):
            if first is None:
                first = time.perf_counter() - started
            count += len(chunk)
    return first or 0.0, time.perf_counter() - started, count


async def open_streams(url: str, count: int, pid: int) -> float:
    """RSS growth of the serving process per stream while ``count`` GETs are open, each read
    only to its first chunk."""
    await asyncio.sleep(0.5)
    before = rss_bytes(pid)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        responses = []
        try:
            for _ in range(count):
                response = await http.get(url)
                await response.content.readany()
                responses.append(response)
            await asyncio.sleep(1.0)            # the server fills what the sockets take, then waits
            peak = 0
            for _ in range(5):
                peak = max(peak, rss_bytes(pid))
                await asyncio.sleep(0.05)
        finally:
            for response in responses:
                response.close()
    return (peak - before) / count


async def measure(url: str, pid: int, urls: dict, quick: bool) -> Result:
    rounds = 3 if quick else 5
    requests, small_fetches, big_fetches = (150, 5, 1) if quick else (600, 10, 2)
    requester = await Requester(url).start()
    names = [f"prompt://{ACCOUNT}/{PROMPTS[i % len(PROMPTS)]}/en-us" for i in range(requests)]
    figures: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        figures.setdefault(key, []).append(value)

    try:
        for _ in range(40):                             # warm-up: connections, caches, compiled schemas
            _, reply = await requester.ask(names[_ % len(names)], "media_req")
            assert "Stream-URL" in reply, reply
            await requester.ask(names[0], RAW_KEY)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            await fetch(http, urls["1 MB"]["kzvoice"])
            await fetch(http, urls["1 MB"]["plain"])
            for round_no in range(rounds):
                # request by request, alternately: a machine that slows down slows both sides
                samples: dict[str, list[float]] = {"kzvoice": [], "raw": []}
                for name in names:
                    for side, key in (("kzvoice", "media_req"), ("raw", RAW_KEY)):
                        samples[side].append((await requester.ask(name, key))[0])
                for side, values in samples.items():
                    add(f"req p50 {side}", pct(values, 0.5) * 1000)
                    add(f"req p99 {side}", pct(values, 0.99) * 1000)
                for label, size in SIZES.items():
                    repeats = small_fetches if size < 10 * 1024 * 1024 else big_fetches
                    ttfb: dict[str, list[float]] = {"kzvoice": [], "plain": []}
                    rate: dict[str, list[float]] = {"kzvoice": [], "plain": []}
                    for _ in range(repeats):
                        for side in ("kzvoice", "plain"):
                            first, total, count = await fetch(http, urls[label][side])
                            assert count == size, (side, label, count)
                            ttfb[side].append(first * 1000)
                            rate[side].append(size / total / 1e6)
                    for side in ("kzvoice", "plain"):
                        add(f"{label} MB/s {side}", median(rate[side]))
                        add(f"{label} ttfb {side}", median(ttfb[side]))
                print(f"round {round_no + 1}/{rounds}: media_req p50 {figures['req p50 kzvoice'][-1]:.2f} ms "
                      f"(raw {figures['req p50 raw'][-1]:.2f}); 1 MB {figures['1 MB MB/s kzvoice'][-1]:.0f} MB/s "
                      f"(plain {figures['1 MB MB/s plain'][-1]:.0f}); 50 MB "
                      f"{figures['50 MB MB/s kzvoice'][-1]:.0f} MB/s (plain {figures['50 MB MB/s plain'][-1]:.0f})",
                      flush=True)
        per_stream = {side: await open_streams(urls["50 MB"][side], CONCURRENT, pid) for side in ("kzvoice", "plain")}
        print(f"{CONCURRENT} open streams: {per_stream['kzvoice'] / 1024:.0f} KiB each "
              f"(plain {per_stream['plain'] / 1024:.0f} KiB)", flush=True)
    finally:
        await requester.close()

    result = Result()
    ms, rate = "{:.2f}", "{:.0f}"
    ratio = median(figures["req p50 kzvoice"]) / median(figures["req p50 raw"])
    result.add("media", "media_req -> media_resp p50, vs raw aio-pika", spread(figures["req p50 kzvoice"], ms, "ms"),
               spread(figures["req p50 raw"], ms, "ms"), ratio, f"<= {TARGET_LATENCY}x",
               verdict(ratio <= TARGET_LATENCY),
               note=f"{rounds} rounds of {requests} prompt:// requests, one in flight, SQLite store; raw = "
                    "decode + fixed reply + ack, in the same serving process")
    result.add("media", "media_req -> media_resp p99, vs raw aio-pika", spread(figures["req p99 kzvoice"], ms, "ms"),
               spread(figures["req p99 raw"], ms, "ms"),
               median(figures["req p99 kzvoice"]) / median(figures["req p99 raw"]))
    for label in SIZES:
        ours, plain = median(figures[f"{label} MB/s kzvoice"]), median(figures[f"{label} MB/s plain"])
        result.add("media", f"stream {label} throughput, vs aiohttp FileResponse",
                   spread(figures[f"{label} MB/s kzvoice"], rate, "MB/s"),
                   spread(figures[f"{label} MB/s plain"], rate, "MB/s"), ours / plain,
                   f">= {TARGET_THROUGHPUT}x", verdict(ours / plain >= TARGET_THROUGHPUT),
                   note="from the SQLite store through the resolver, chunk by chunk; the baseline serves the same "
                        "bytes from a file (sendfile)" if label == "1 MB" else "")
        result.add("media", f"stream {label} time to first byte, vs FileResponse",
                   spread(figures[f"{label} ttfb kzvoice"], ms, "ms"), spread(figures[f"{label} ttfb plain"], ms, "ms"),
                   median(figures[f"{label} ttfb kzvoice"]) / median(figures[f"{label} ttfb plain"]))
    result.add("media", f"{CONCURRENT} concurrent GETs: RSS per open stream, vs FileResponse",
               f"{per_stream['kzvoice'] / 1024:.0f} KiB", f"{per_stream['plain'] / 1024:.0f} KiB",
               note=f"{CONCURRENT} GETs of the 50 MB attachment held open after their first chunk; growth of the "
                    "serving process's RSS over the idle process, divided by the streams")
    return result


def collect(args) -> Result:
    url, cleanup = own_vhost(args.amqp_url, "kzvoice-bench-media")
    try:
        with tempfile.TemporaryDirectory(prefix="kzvoice-bench-media-") as folder:
            server = subprocess.Popen([sys.executable, "-m", "bench.bench_media", "--serve", folder,
                                       "--amqp-url", url], cwd=str(ROOT), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
            try:
                line = server.stdout.readline()
                if not line:
                    raise RuntimeError("the serving process did not start")
                ready = json.loads(line)
                return asyncio.run(measure(url, ready["pid"], ready["urls"], args.quick))
            finally:
                server.stdin.close()
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
    finally:
        if cleanup is not None:
            cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_media", description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-url", default=amqp_url_default())
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.amqp_url, Path(args.serve)))
        return 0
    return run_module(collect, args)


if __name__ == "__main__":
    sys.exit(main())
