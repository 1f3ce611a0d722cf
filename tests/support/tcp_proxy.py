"""A loopback TCP proxy in front of the test broker, to cut a client's connection at will.

``await TcpProxy(host, port).start()`` listens on a free loopback port and forwards every
connection to ``host:port``.  ``await cut()`` closes every forwarded connection at once
(both sides: the client sees a reset connection, the broker a client that went away, as
when a node dies) and refuses new ones until ``await restore()``, which listens on the
same port again.  The broker itself is never disturbed, so other tests using it go on.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port: int | None = None
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    def url(self, broker_url: str) -> str:
        """``broker_url`` (``amqp://user:pass@host:port/vhost``) through this proxy."""
        scheme, _, rest = broker_url.partition("://")
        creds, at, hostpart = rest.rpartition("@")
        _, slash, path = hostpart.partition("/")
        return f"{scheme}://{creds}{at}127.0.0.1:{self.port}{slash}{path}"

    async def start(self) -> "TcpProxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port or 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, upstream_writer))
        for source, sink in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            sink.close()

    async def cut(self) -> None:
        """Close every forwarded connection and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            if transport is not None:
                transport.abort()           # a reset, not a polite close
        self._writers.clear()
        for task in list(self._pipes):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._pipes, return_exceptions=True)

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()
