"""The raw aio-pika baseline of the voicemail benchmark: consume one message, publish one in answer.

What the transport alone costs a process per call event: a bare aio-pika
consumer (``python -m bench.voicemail.raw --serve URL``) on a queue bound to a
topic exchange takes a JSON message of about 1.5 KB (a call event's size),
decodes it, publishes one reply of about the same size (a command's size) on
the same exchange (a channel with publisher confirms, as kzvoice's bus
publishes) and acks after that (our ack policy).  ``RawBaseline`` starts that
process and publishes N messages to it from this process, 64 in flight, and
reads the process's CPU time from outside (``bench.common.cpu_seconds``) around
them: CPU seconds per consumed and published message.  With the pinned
placement it runs on the service's core, as the service does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import aio_pika
import orjson

from bench.common import ROOT, cpu_seconds, quit_child

EXCHANGE = "bench-voicemail-raw"
IN_KEY = "raw.event"
OUT_KEY = "raw.command"
IN_FLIGHT = 64
PREFETCH = 64


def event_body(i: int) -> bytes:
    """About 1.5 KB of JSON, shaped like a gateway's call event."""
    call_id = f"bench-raw-{i:08d}-0123456789abcdef0123456789abcdef"
    return orjson.dumps({
        "Event-Category": "call_event", "Event-Name": "CHANNEL_EXECUTE_COMPLETE", "App-Name": "freeswitch",
        "App-Version": "1.10.9", "Node": "fs@bench.example.com", "Msg-ID": f"{i:032x}",
        "Call-ID": call_id, "Other-Leg-Call-ID": "", "Call-Direction": "inbound", "Channel-State": "EXECUTE",
        "Channel-Call-State": "ACTIVE", "Channel-Name": f"sofia/sipinterface_1/caller{i}@bench.example.com",
        "Application-Name": "play", "Application-Response": "FILE PLAYED",
        "Timestamp": 63870000000 + i, "Caller-ID-Name": "Bench", "Caller-ID-Number": f"{2000 + i % 1000}",
        "Callee-ID-Name": "Voicemail", "Callee-ID-Number": "3000", "To": "3000@bench.example.com",
        "From": f"caller{i}@bench.example.com", "Request": "3000@bench.example.com",
        "Switch-Hostname": "fs.bench.example.com", "Switch-Nodename": "fs@bench.example.com",
        "Switch-URL": "sip:mod_sofia@10.0.0.1:5060", "Switch-URI": "sip:10.0.0.1:5060",
        "Media-Server": "fs.bench.example.com", "Raw-Application-Name": "playback",
        "Raw-Application-Data": "http://voicemail.bench.example.com:8081/media/4fe69c5b61015084f1fe5684abc6e502/"
                                "vm-enter_pass.wav?exp=1733500000&sig=0123456789abcdef0123456789abcdef",
        "Custom-Channel-Vars": {"Account-ID": "4fe69c5b61015084f1fe5684abc6e502",
                                "Authorizing-ID": "d" * 32, "Authorizing-Type": "device",
                                "Call-Interaction-ID": f"63870000000-{i:08x}", "Channel-Authorized": "true",
                                "Realm": "bench.example.com", "Username": f"caller{i}",
                                "Fetch-ID": "0123456789abcdef0123456789abcdef", "Bridge-ID": call_id,
                                "Global-Resource": "false", "Ecallmgr-Node": "ecallmgr@bench.example.com"},
        "Custom-Application-Vars": {}, "Custom-SIP-Headers": {"X-Bench": "raw"},
    })


def reply_body(event: dict) -> bytes:
    """About 1.5 KB of JSON, shaped like a command for the call the event was about."""
    return orjson.dumps({
        "Event-Category": "call", "Event-Name": "command", "App-Name": "voicemail", "App-Version": "4.3.0",
        "Node": "kzvoice@bench", "Msg-ID": event["Msg-ID"][::-1], "Call-ID": event["Call-ID"],
        "Application-Name": "play", "Media-Name": event["Raw-Application-Data"],
        "Terminators": ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"],
        "Insert-At": "tail", "Leg": "A", "Group-ID": f"voicemail-{event['Call-ID']}",
        "Server-ID": "amq.gen-0123456789abcdefghijklmnop", "Caller-ID-Number": event["Caller-ID-Number"],
        "Custom-Channel-Vars": event["Custom-Channel-Vars"], "To": event["To"], "From": event["From"],
        "Request": event["Request"], "Switch-Nodename": event["Switch-Nodename"],
        "Channel-Name": event["Channel-Name"], "Timestamp": event["Timestamp"],
    })


# ---- the raw process ------------------------------------------------------------------------------------

async def serve(url: str) -> int:
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel()                    # publisher confirms, as kzvoice's bus publishes
    await channel.set_qos(prefetch_count=PREFETCH)
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, auto_delete=True)
    queue = await channel.declare_queue(f"bench-voicemail-raw-{os.getpid()}", exclusive=True, auto_delete=True)
    await queue.bind(exchange, IN_KEY)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        event = orjson.loads(message.body)
        await exchange.publish(aio_pika.Message(reply_body(event), content_type="application/json"),
                               routing_key=OUT_KEY)
        await message.ack()

    await queue.consume(on_message)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("READY", flush=True)
    try:
        while (await reader.readline()).decode().strip() not in ("quit", ""):
            pass
    finally:
        await connection.close()
    return 0


# ---- the driver side ----------------------------------------------------------------------------------

class RawBaseline:
    """The raw process, and the publisher that loads it from this process."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url

    async def start(self) -> "RawBaseline":
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.voicemail.raw", "--serve", "--amqp-url", self.amqp_url, cwd=str(ROOT),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if line.decode().strip() != "READY":
            raise RuntimeError(f"the raw aio-pika process did not start: {line!r}")
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self.connection.channel(publisher_confirms=False)
        self.exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, auto_delete=True)
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        await replies.bind(self.exchange, OUT_KEY)
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._received = 0
        self._wanted = 0
        self._done = asyncio.Event()
        await replies.consume(self._on_reply, no_ack=True)
        self.bodies = [event_body(i) for i in range(1000)]
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _on_reply(self, _message) -> None:
        self._received += 1
        self._slots.release()
        if self._received >= self._wanted:
            self._done.set()

    async def round(self, messages: int, timeout: float = 300) -> dict:
        """``messages`` events through the raw process, ``IN_FLIGHT`` at a time: its CPU per message."""
        self._received, self._wanted = 0, messages
        self._done.clear()
        cpu = cpu_seconds(self.pid)
        started = time.perf_counter()
        for i in range(messages):
            await self._slots.acquire()
            await self.exchange.publish(aio_pika.Message(self.bodies[i % len(self.bodies)],
                                                         content_type="application/json"), routing_key=IN_KEY)
        await asyncio.wait_for(self._done.wait(), timeout)
        wall = time.perf_counter() - started
        used = cpu_seconds(self.pid) - cpu
        return {"messages": messages, "wall_s": wall, "cpu_s": used, "cpu_us_per_message": used / messages * 1e6,
                "bytes_in": len(self.bodies[0])}

    async def stop(self) -> None:
        try:
            await self.connection.close()
        finally:
            await quit_child(self.process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.voicemail.raw", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", required=True, help="run the raw consumer (stdin: quit)")
    parser.add_argument("--amqp-url", required=True)
    args = parser.parse_args(argv)
    return asyncio.run(serve(args.amqp_url))


if __name__ == "__main__":
    sys.exit(main())
