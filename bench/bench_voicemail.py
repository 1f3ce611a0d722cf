"""Compose under load: N simultaneous callers leave a message with one voicemail_svc process.

Run with ``python -m bench.bench_voicemail [--quick]`` against a RabbitMQ broker
(``KZ_AMQP_URL`` or ``--amqp-url``).  A vhost of its own is created for the run
when the broker can be administered (rabbitmqctl or the management API), so no
other service competes for ``voicemail_actions``.

Two processes:

* the **service process** (this module with ``--serve``): config_svc and
  voicemail_svc on an in-memory store seeded with one account and one box per
  caller -- what ``kzvoice run --only config,voicemail`` would run.  It measures
  the command latency inside voicemail_svc: from the moment a call event is
  handed to its session (after decoding and validation) to the moment the next
  command for that call has been published, counted once per consumed event
  that is followed by a command;
* the **load process**: the gateway simulator, a router that parks, the
  executor (action.execute, then a hangup after the result, as callflow_svc
  does) and a notifier that answers ``voicemail_new`` with ``completed``.

Callers are paced as real ones: every prompt lasts its real length (1.5 s when
unknown; ``say`` 1 s; the beep 0.6 s), the caller listens to the whole
greeting, speaks 10-30 s (uniformly drawn), ends the recording with ``#`` and
presses ``1`` one second after ``vm-review_recording`` starts.  The N callers
of a level arrive evenly over ``--ramp`` seconds (10 s by default; a call lasts
20-40 s, so all N are on the line together).  For each level it prints calls completed per second (N
divided by the time from the first call to the last hang-up), messages stored,
and the latency p50/p99/max.  Target: p99 <= 20 ms at 500 calls in real time.

``--quick``: 10 and 100 calls in compressed time only (media 20 times faster);
compressed rows are labelled ``x20`` and are not comparable with real time:
they pack the same commands into far less time.  A measurement, not a test: it
exits 0 unless the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ACCOUNT = "b0a1b2c3d4e5f60718293a4b5c6d7e8f"
REALM = "bench.example.com"
FIRST_BOX = 10000
LEVELS = (10, 100, 500)
QUICK_LEVELS = (10, 100)
COMPRESSED_SCALE = 0.05
TARGET_P99_MS = 20.0
VERBOSE = False


def box_id(i: int) -> str:
    return f"{i:032x}"


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---- the service process ------------------------------------------------------------------------

class Latencies:
    """event handed to a session -> next command published, per call."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.by_command: dict[str, list[float]] = {}
        self.publish: list[float] = []           # the publish call alone


def instrument(latencies: Latencies) -> None:
    """Time voicemail_svc's sessions without changing them: a timed event stream and a timed send."""
    from voicemail_svc import call_control, listener

    class TimedEvents(call_control.CallEvents):
        def __init__(self, call_id: str) -> None:
            super().__init__(call_id)
            self.arrived: dict[int, float] = {}
            self.consumed_at: float | None = None

        def put(self, message) -> None:
            self.arrived[id(message)] = time.perf_counter()
            super().put(message)

        async def next(self, deadline):
            message = await super().next(deadline)
            if message is not None:
                self.consumed_at = self.arrived.pop(id(message), None)
            return message

    original_send = call_control.BusCallControl._send

    async def timed_send(self, application, fields=None, *, insert_at=None):
        begin = time.perf_counter()
        sent = await original_send(self, application, fields, insert_at=insert_at)
        latencies.publish.append((time.perf_counter() - begin) * 1000.0)
        events = self._events
        consumed = getattr(events, "consumed_at", None)
        if consumed is not None:
            took = (time.perf_counter() - consumed) * 1000.0
            latencies.samples.append(took)
            latencies.by_command.setdefault(application, []).append(took)
            events.consumed_at = None
        return sent

    listener.CallEvents = TimedEvents
    call_control.BusCallControl._send = timed_send


async def seed(store, boxes: int) -> None:
    from services.store import layout
    db = layout.account_db(ACCOUNT)
    await store.init_db()
    await store.create_db(db)
    account = {"_id": ACCOUNT, "name": "bench", "realm": REALM}
    for target in (db, layout.ACCOUNTS_DB):
        await store.put(target, layout.stamp(dict(account), pvt_type="account", db=db))
    docs = [layout.stamp({"_id": box_id(i), "name": f"Box {FIRST_BOX + i}", "mailbox": str(FIRST_BOX + i),
                          "pin": "1234", "is_setup": True}, pvt_type="vmbox", db=db) for i in range(boxes)]
    for start in range(0, len(docs), 500):
        await store.bulk_put(db, docs[start:start + 500])


async def serve(amqp_url: str, boxes: int) -> int:
    from config_svc.app import build as build_config
    from services.runtime import ServiceContext
    from services.settings import Settings
    from services.store import layout
    from services.store.memory import MemoryStore
    from voicemail_svc.app import build as build_voicemail

    latencies = Latencies()
    instrument(latencies)
    store = MemoryStore()
    await seed(store, boxes)
    spool = tempfile.mkdtemp(prefix="kzvoice-bench-spool-")
    settings = Settings(amqp_url=amqp_url, store_url="memory://", node="kzvoice@bench-vm", http_host="127.0.0.1",
                        spool_dir=spool)
    context = ServiceContext(settings, _store=store)
    config = build_config(context)
    await config.start()
    voicemail = build_voicemail(context, upload_host="127.0.0.1", resend_mwi=False)
    await voicemail.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("READY", flush=True)
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "report":
                await voicemail.deps.background.drain(60.0)
                stored = 0
                for name in await store.list_dbs():
                    if layout.is_modb(name):
                        stored += len([r for r in await store.all_docs(name, include_docs=True)
                                       if r["doc"].get("_attachments")])
                by_command = {app: {"n": len(v), "p50": pct(v, 0.5), "p99": pct(v, 0.99)}
                              for app, v in latencies.by_command.items()}
                by_command["(publish call alone)"] = {"n": len(latencies.publish), "p50": pct(latencies.publish, 0.5),
                                                      "p99": pct(latencies.publish, 0.99)}
                latencies.publish = []
                print(json.dumps({"latencies_ms": latencies.samples, "stored": stored, "by_command": by_command,
                                  "uploads": voicemail.deps.uploads.accepted}), flush=True)
                latencies.samples = []
                latencies.by_command = {}
            elif line == "quit":
                break
    finally:
        await voicemail.stop(5.0)
        await config.stop(1.0)
        await context.close()
    return 0


# ---- the load process --------------------------------------------------------------------------

class Load:
    def __init__(self, amqp_url: str, time_scale: float, recording_dir: str) -> None:
        self.amqp_url = amqp_url
        self.time_scale = time_scale
        self.recording_dir = recording_dir
        self.failures: list[str] = []

    async def start(self) -> "Load":
        from gateway_sim import Gateway, GatewayConfig
        from services.bus import Bus, open_transport, unique_queue_name
        from services.bus.exchanges import CALLMGR, NOTIFICATIONS, route_req_key
        from services.messages import catalogue as m
        from services.messages.validation import Validator

        validator = Validator()
        self.m = m
        self.gw_bus = Bus(open_transport(self.amqp_url), validator, app_name="freeswitch", node="fs@bench")
        await self.gw_bus.start()
        self.bus = Bus(open_transport(self.amqp_url), validator, app_name="callflow", node="cf@bench")
        await self.bus.start()
        self.gateway = Gateway(self.gw_bus, None, GatewayConfig(time_scale=self.time_scale, route_timeout=5.0,
                                                                max_call_seconds=300.0, post_hangup_linger=0.5,
                                                                recording_dir=self.recording_dir))
        await self.gateway.start()
        self.replies = await self.bus.reply_queue("bench-executor")
        self.replies.on(m.ROUTE_WIN, self._on_win)
        self.wins: dict[str, asyncio.Future] = {}
        self.reqs: dict[str, dict] = {}
        routes = await self.bus.consumer(unique_queue_name("bench-router"), exclusive=True, prefetch=256)
        await routes.bind(CALLMGR, route_req_key("audio", account_id=ACCOUNT))
        routes.on(m.ROUTE_REQ, self._on_req)
        await routes.start()
        notifier = await self.bus.consumer(unique_queue_name("bench-notifier"), exclusive=True, prefetch=256)
        await notifier.bind(NOTIFICATIONS, "notifications.voicemail.new")
        notifier.on(m.VOICEMAIL_NEW, self._on_new)
        await notifier.start()
        return self

    def _win(self, call_id: str) -> asyncio.Future:
        return self.wins.setdefault(call_id, asyncio.get_running_loop().create_future())

    async def _on_req(self, req) -> None:
        self.reqs[req["Call-ID"]] = dict(req)
        await self.bus.publish(self.m.ROUTE_RESP, {"Msg-ID": req.msg_id, "Call-ID": req["Call-ID"],
                                                   "Method": "park", "Routes": [], "Pre-Park": "none"},
                               to=req.server_id, server_id=self.replies.name)

    async def _on_win(self, win) -> None:
        future = self._win(win["Call-ID"])
        if not future.done():
            future.set_result(win)

    async def _on_new(self, message) -> None:
        await self.bus.publish(self.m.NOTIFY_UPDATE, {"Msg-ID": message.msg_id, "Status": "completed"},
                               to=message.server_id)

    async def one_call(self, i: int, rng: random.Random) -> None:
        from gateway_sim import Endpoint, Script
        from services.messages.etf import decode_result
        m = self.m
        speak = rng.uniform(10.0, 30.0)
        script = Script().on_record_start(speak=speak, press="#") \
            .on_prompt("vm-review_recording", barge=True, after=1.0, press="1")
        endpoint = Endpoint(account_id=ACCOUNT, realm=REALM, username=f"caller{i}", caller_id_name="Bench",
                            caller_id_number=f"{2000 + i}", device_id=secrets.token_hex(16))
        call = await self.gateway.start_call(endpoint=endpoint, dial=str(FIRST_BOX + i), script=script)
        try:
            win = await asyncio.wait_for(self._win(call.call_id), 30)
        except asyncio.TimeoutError:
            self.failures.append(f"call {i}: not routed")
            return
        req = self.reqs[call.call_id]
        call_object = {"Call-ID": call.call_id, "Account-ID": ACCOUNT, "Control-Queue": win["Control-Queue"],
                       "Request": req["Request"], "To": req["To"], "From": req["From"], "Language": "en-us",
                       "Caller-ID-Number": req.get("Caller-ID-Number"), "Caller-ID-Name": req.get("Caller-ID-Name"),
                       "Switch-Nodename": req.get("Switch-Nodename"),
                       "Key-Value-Store": {"remote-action": "voicemail"}}
        body = self.bus.publisher.build(m.ACTION_EXECUTE, {"Call-ID": call.call_id, "Data": {"id": box_id(i)},
                                                           "Call": call_object}, server_id=self.replies.name)
        stream = self.replies.stream(body["Msg-ID"])
        await self.bus.publisher.send(m.ACTION_EXECUTE, body)
        try:
            while True:
                reply = await stream.next(300)
                if reply.spec.key == "callflow.action.result":
                    if decode_result(reply["Result"]).kind != "continue":
                        self.failures.append(f"call {i}: result {reply['Result']}")
                    break
        except asyncio.TimeoutError:
            self.failures.append(f"call {i}: no result")
        finally:
            stream.close()
        await self.bus.publish(m.COMMANDS["hangup"], {"Call-ID": call.call_id, "Application-Name": "hangup"},
                               to=win["Control-Queue"])
        await call.finished(timeout=120)

    async def level(self, calls: int, seed: int, ramp_s: float = 0.0) -> float:
        """``calls`` callers arriving evenly over ``ramp_s`` real seconds, all on the line together."""
        rng = random.Random(seed)
        started = time.perf_counter()

        async def caller(i: int) -> None:
            await asyncio.sleep(ramp_s * i / max(1, calls))
            await self.one_call(i, rng)

        await asyncio.gather(*(caller(i) for i in range(calls)))
        return time.perf_counter() - started

    async def stop(self) -> None:
        await self.gateway.stop()
        await self.bus.close()
        await self.gw_bus.close()


class Service:
    """The service process, driven over its stdin/stdout."""

    def __init__(self, amqp_url: str, boxes: int) -> None:
        self.amqp_url = amqp_url
        self.boxes = boxes

    async def start(self) -> "Service":
        root = Path(__file__).resolve().parent.parent
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.bench_voicemail", "--serve", "--amqp-url", self.amqp_url,
            "--boxes", str(self.boxes), cwd=str(root), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**os.environ, "KZ_LOG_LEVEL": "warning"})
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if line.decode().strip() != "READY":
            raise RuntimeError(f"the service process did not start: {line!r}")
        return self

    async def report(self) -> dict:
        self.process.stdin.write(b"report\n")
        await self.process.stdin.drain()
        return json.loads(await asyncio.wait_for(self.process.stdout.readline(), 120))

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.stdin.write(b"quit\n")
            await self.process.stdin.drain()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except asyncio.TimeoutError:
                self.process.send_signal(signal.SIGTERM)
                await self.process.wait()


async def measure(amqp_url: str, levels: tuple[int, ...], scales: tuple[float, ...], ramp_s: float) -> list[dict]:
    rows = []
    service = await Service(amqp_url, max(levels)).start()
    try:
        with tempfile.TemporaryDirectory(prefix="kzvoice-bench-rec-") as recordings:
            warm = await Load(amqp_url, COMPRESSED_SCALE, recordings).start()
            try:
                for _ in range(3):     # warm-up: config cache (settles once defaults are written back)
                    await warm.level(2, seed=0)
            finally:
                await warm.stop()
        stored_before = (await service.report())["stored"]
        for scale in scales:
            with tempfile.TemporaryDirectory(prefix="kzvoice-bench-rec-") as recordings:
                load = await Load(amqp_url, scale, recordings).start()
                try:
                    for calls in levels:
                        wall = await load.level(calls, seed=calls, ramp_s=ramp_s * scale)
                        report = await service.report()
                        stored, stored_before = report["stored"] - stored_before, report["stored"]
                        samples = report["latencies_ms"]
                        rows.append({"calls": calls, "time": "real" if scale == 1.0 else f"x{1 / scale:g}",
                                     "wall_s": wall, "calls_per_s": calls / wall, "stored": stored,
                                     "samples": len(samples), "p50_ms": pct(samples, 0.50),
                                     "p99_ms": pct(samples, 0.99), "max_ms": max(samples, default=float("nan")),
                                     "failures": list(load.failures), "by_command": report["by_command"]})
                        load.failures.clear()
                        print_row(rows[-1])
                finally:
                    await load.stop()
    finally:
        await service.stop()
    return rows


HEADER = f"{'calls':>6} {'time':>5} {'wall s':>8} {'calls/s':>8} {'stored':>7} {'samples':>8} " \
         f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"


def print_row(row: dict) -> None:
    print(f"{row['calls']:>6} {row['time']:>5} {row['wall_s']:>8.1f} {row['calls_per_s']:>8.2f} "
          f"{row['stored']:>7} {row['samples']:>8} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
          f"{row['max_ms']:>8.2f}" + (f"  failures: {len(row['failures'])} ({row['failures'][0]})"
                                      if row["failures"] else ""), flush=True)
    if VERBOSE:
        for app, figures in sorted(row["by_command"].items()):
            print(f"         next command {app}: n={figures['n']} p50 {figures['p50']:.2f} ms "
                  f"p99 {figures['p99']:.2f} ms", flush=True)


def _with_vhost(url: str):
    """A vhost of our own on the broker when it can be administered; else the URL as given."""
    try:
        root = Path(__file__).resolve().parent.parent
        sys.path.insert(0, str(root))
        from tests.support.broker import admin_for
        admin = admin_for(url)
        vhost = f"kzvoice-bench-{secrets.token_hex(4)}"
        admin.add_vhost(vhost)
    except Exception as exc:
        print(f"(no vhost of our own: {exc}; using the broker's URL as given)")
        return url, None
    parts = urllib.parse.urlsplit(url)
    own = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + urllib.parse.quote(vhost, safe=""),
                                   parts.query, ""))
    return own, (lambda: admin.delete_vhost(vhost))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amqp-url", default=os.environ.get("KZ_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--quick", action="store_true", help="10 and 100 calls, compressed time only")
    parser.add_argument("--levels", default=None, help="comma-separated numbers of simultaneous calls")
    parser.add_argument("--no-compressed", action="store_true", help="real time only")
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="callers of a level arrive evenly over this many seconds (real time; default 10)")
    parser.add_argument("--verbose", action="store_true", help="latency by the command that followed the event")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--boxes", type=int, default=max(LEVELS), help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    global VERBOSE
    VERBOSE = args.verbose
    logging.basicConfig(level=logging.WARNING)
    if args.serve:
        profile = os.environ.get("KZ_BENCH_PROFILE")      # a file: cProfile of the service process
        if profile:
            import cProfile
            profiler = cProfile.Profile()
            try:
                return profiler.runcall(asyncio.run, serve(args.amqp_url, args.boxes))
            finally:
                profiler.dump_stats(profile)
        return asyncio.run(serve(args.amqp_url, args.boxes))
    levels = tuple(int(x) for x in args.levels.split(",")) if args.levels else (QUICK_LEVELS if args.quick else LEVELS)
    scales = (COMPRESSED_SCALE,) if args.quick else ((1.0,) if args.no_compressed else (1.0, COMPRESSED_SCALE))
    url, cleanup = _with_vhost(args.amqp_url)
    print("compose: N simultaneous callers against one voicemail_svc process (arriving over "
          f"{args.ramp:g} s); latency = call event handed to its session -> next command published")
    print(HEADER)
    try:
        rows = asyncio.run(measure(url, levels, scales, args.ramp))
    except OSError as exc:
        print(f"bench_voicemail: broker unreachable: {exc}")
        return 1
    finally:
        if cleanup is not None:
            cleanup()
    real = [r for r in rows if r["time"] == "real" and r["calls"] == 500]
    if real:
        verdict = "met" if real[0]["p99_ms"] <= TARGET_P99_MS else "NOT met"
        print(f"target p99 <= {TARGET_P99_MS:g} ms at 500 calls in real time: {verdict} ({real[0]['p99_ms']:.2f} ms)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_voicemail", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
