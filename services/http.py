"""Starting an aiohttp application on a port: what every HTTP listener of kzvoice does the same way."""

from __future__ import annotations

import socket

from aiohttp import web


async def serve(app: web.Application, *, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Run ``app`` on ``host``:``port`` (0: a free port); returns the runner (``cleanup()`` stops
    it) and the port bound.  No access log: request lines may carry signed tokens."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    return runner, sockets[0].getsockname()[1] if sockets else port


def base_url(host: str, port: int, public_url: str = "") -> str:
    """``public_url`` when configured, else ``http://<host>:<port>`` with a wildcard host
    replaced by this machine's name."""
    if public_url:
        return public_url.rstrip("/")
    shown = host if host not in ("", "0.0.0.0", "::") else socket.gethostname()
    return f"http://{shown}:{port}"
