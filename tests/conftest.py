"""Shared test fixtures: the real RabbitMQ broker, in a vhost of this run's own.

Which broker (printed at the start of the run):
1. ``KZ_TEST_AMQP_URL`` when set;
2. otherwise a ``rabbitmq:3-management`` container when a Docker engine answers;
3. otherwise the local broker (``KZ_AMQP_URL`` or amqp://guest:guest@127.0.0.1:5672/).

The run creates a vhost ``kzvoice-test-<hex>`` and deletes it at the end, so
runs never see each other's queues.  A broker that cannot be reached fails the
tests that need it, loudly; nothing is skipped silently.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass

import pytest

from testkit.broker import BrokerAdmin, admin_for, vhost_url
from testkit.shared import ENV as SHARED_ENV, shared_dir


@dataclass
class BrokerInfo:
    url: str           # amqp URL including this run's vhost
    base_url: str      # the URL the broker was found at
    source: str        # which of the three ways chose it
    vhost: str
    admin: BrokerAdmin


def _say(config, text: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(text)
    else:
        print(text)


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _tcp_open(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=3):
            return True
    except OSError:
        return False


def pytest_report_header(config) -> str:
    folder = shared_dir()
    state = "" if folder.is_dir() else f" -- MISSING: the tests that need it fail; set {SHARED_ENV}"
    return f"reference data: {folder}{state}"


@pytest.fixture(scope="session")
def broker(request) -> BrokerInfo:
    config = request.config
    container = None
    if os.environ.get("KZ_TEST_AMQP_URL"):
        base, source = os.environ["KZ_TEST_AMQP_URL"], "KZ_TEST_AMQP_URL"
    elif _docker_answers():
        from testcontainers.rabbitmq import RabbitMqContainer
        container = RabbitMqContainer("rabbitmq:3-management")
        container.start()
        host, port = container.get_container_host_ip(), container.get_exposed_port(5672)
        base, source = f"amqp://guest:guest@{host}:{port}/", "docker container rabbitmq:3-management"
        request.addfinalizer(container.stop)
    else:
        base = os.environ.get("KZ_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
        if base.startswith("memory://"):
            base = "amqp://guest:guest@127.0.0.1:5672/"
        source = "local broker"
    if not _tcp_open(base):
        pytest.fail(f"RabbitMQ is not reachable at {urllib.parse.urlsplit(base).netloc.split('@')[-1]} "
                    f"({source}). Start it with `rabbitmq-server -detached` (make test does), or set "
                    f"KZ_TEST_AMQP_URL.", pytrace=False)
    admin = admin_for(base, container=container)
    vhost = f"kzvoice-test-{secrets.token_hex(4)}"
    admin.add_vhost(vhost)
    request.addfinalizer(lambda: admin.delete_vhost(vhost))
    url = vhost_url(base, vhost)
    parts = urllib.parse.urlsplit(base)
    _say(config, f"broker: {source} at {parts.hostname}:{parts.port or 5672}, vhost {vhost} "
                 f"(vhosts managed with {admin.kind})")
    return BrokerInfo(url=url, base_url=base, source=source, vhost=vhost, admin=admin)


@pytest.fixture(scope="session")
def amqp_url(broker: BrokerInfo) -> str:
    return broker.url
