"""amqps:// with a CA and a client certificate taken from the environment."""

from __future__ import annotations

import asyncio
import shutil
import urllib.parse

import pytest

from services.bus import BrokerUnavailable
from services import exchanges as x
from services.bus.amqp import AmqpTransport
from services.settings import Settings
from tests.support.tls import TlsProxy, make_pki


@pytest.fixture
async def tls_front(amqp_url, tmp_path):
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make test certificates (apt-get install openssl)")
    pki = make_pki(tmp_path)
    parts = urllib.parse.urlsplit(amqp_url)
    proxy = TlsProxy(pki, parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    creds = parts.netloc.rsplit("@", 1)[0]
    url = f"amqps://{creds}@127.0.0.1:{proxy.port}{parts.path}"
    yield pki, proxy, url
    await proxy.stop()


async def test_amqps_with_ca_and_client_certificate_from_the_environment(tls_front):
    pki, proxy, url = tls_front
    settings = Settings.from_env({"KZ_AMQP_URL": url, "KZ_AMQP_CA_FILE": str(pki.ca),
                                  "KZ_AMQP_CERT_FILE": str(pki.client_cert), "KZ_AMQP_KEY_FILE": str(pki.client_key)})
    transport = AmqpTransport(settings.amqp_url, tls=settings.tls)
    await transport.connect()
    try:
        got: asyncio.Queue = asyncio.Queue()
        await transport.declare_exchange(x.TARGETED)
        await transport.declare_queue("tls-check", exclusive=True)
        await transport.bind("tls-check", x.TARGETED, "tls-check")

        async def handler(delivery):
            got.put_nowait(delivery.body)
            await delivery.ack()
        await transport.consume("tls-check", handler)
        await transport.publish(x.TARGETED, "tls-check", b'{"over":"tls"}')
        assert await asyncio.wait_for(got.get(), 5) == b'{"over":"tls"}'
        assert proxy.handshakes >= 1
    finally:
        await transport.close()


async def test_amqps_without_the_client_certificate_is_refused(tls_front):
    pki, _proxy, url = tls_front
    settings = Settings.from_env({"KZ_AMQP_URL": url, "KZ_AMQP_CA_FILE": str(pki.ca)})
    transport = AmqpTransport(settings.amqp_url, tls=settings.tls)
    with pytest.raises(BrokerUnavailable):
        await asyncio.wait_for(transport.connect(), 15)


async def test_amqps_with_an_unknown_ca_is_refused(tls_front, tmp_path_factory):
    pki, _proxy, url = tls_front
    other = make_pki(tmp_path_factory.mktemp("other-ca"))
    settings = Settings.from_env({"KZ_AMQP_URL": url, "KZ_AMQP_CA_FILE": str(other.ca),
                                  "KZ_AMQP_CERT_FILE": str(pki.client_cert), "KZ_AMQP_KEY_FILE": str(pki.client_key)})
    with pytest.raises(BrokerUnavailable):
        await asyncio.wait_for(AmqpTransport(settings.amqp_url, tls=settings.tls).connect(), 15)
