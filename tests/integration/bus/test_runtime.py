"""The runtime on the real broker: health endpoints, metrics, SIGTERM drain, no-service exit."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from services.bus import Bus
from services.bus.amqp import AmqpTransport
from services.messages import catalogue
from services.messages.validation import Validator
from services.runtime import NoServices, Runtime
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def route_req(call_id: str) -> dict:
    return {"Call-ID": call_id, "Resource-Type": "audio", "Request": "100@acme.example.com",
            "To": "100@acme.example.com", "From": "356@acme.example.com",
            "Custom-Channel-Vars": {"Account-ID": ACCOUNT}}


def start_echo(amqp_url: str, port: int, delay: float) -> subprocess.Popen:
    env = {**os.environ, "KZ_AMQP_URL": amqp_url, "KZ_HTTP_PORT": str(port), "KZ_HTTP_HOST": "127.0.0.1",
           "KZ_TEST_ECHO_DELAY": str(delay), "KZ_DRAIN_SECONDS": "10", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.support.echo_service"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"service exited early:\n{proc.stdout.read()}")
        try:
            if http_get(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("service never became ready")


@pytest.fixture
async def client_bus(amqp_url):
    bus = Bus(AmqpTransport(amqp_url), Validator(Settings().schema_dir), app_name="test-gw", node="gw@test")
    await bus.start()
    yield bus
    await bus.close()


async def test_health_ready_and_metrics_endpoints(amqp_url, client_bus):
    port = free_port()
    proc = start_echo(amqp_url, port, delay=0)
    try:
        await asyncio.to_thread(wait_ready, proc, port)
        assert http_get(port, "/healthz") == (200, "ok\n")
        replies = await client_bus.reply_queue("gw")
        reply = await replies.request(catalogue.lookup("dialplan", "route_req"), route_req("c-metrics"), timeout=5)
        assert reply["Method"] == "park"
        status, text = http_get(port, "/metrics")
        assert status == 200
        assert 'kzvoice_messages_consumed_total{message="route.req",queue="echo_route_requests"} 1.0' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


async def test_sigterm_finishes_in_flight_work_and_exits_zero(amqp_url, client_bus):
    port = free_port()
    proc = start_echo(amqp_url, port, delay=1.5)
    try:
        await asyncio.to_thread(wait_ready, proc, port)
        replies = await client_bus.reply_queue("gw")
        pending = asyncio.create_task(
            replies.request(catalogue.lookup("dialplan", "route_req"), route_req("c-drain"), timeout=10))
        await asyncio.sleep(0.5)            # the handler is now sleeping
        proc.send_signal(signal.SIGTERM)
        reply = await pending               # ...and still answers
        assert reply["Method"] == "park"
        code = await asyncio.to_thread(proc.wait, 20)
        output = proc.stdout.read()
        assert code == 0, output
        assert "stop requested" in output and "answered" in output
    finally:
        if proc.poll() is None:
            proc.kill()


def test_runtime_without_services_says_so():
    with pytest.raises(NoServices, match="no services"):
        Runtime(Settings.from_env({"KZ_AMQP_URL": "memory://"}), factories={})


def test_kzvoice_run_with_an_unknown_service_exits_nonzero():
    done = subprocess.run([sys.executable, "-m", "services.cli", "run", "--only", "nosuch"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KZ_AMQP_URL": "memory://", "PYTHONPATH": str(ROOT)})
    assert done.returncode != 0
    assert "unknown service(s): nosuch" in done.stdout + done.stderr
