import secrets

import pytest

from services.bus.amqp import AmqpTransport


@pytest.fixture
def broker_or_none(request):
    """The broker fixture for rabbitmq-parametrised tests, None for the memory bus."""
    if "rabbitmq" in request.node.callspec.params.values():
        return request.getfixturevalue("broker")
    return None


@pytest.fixture
async def transport(amqp_url, request):
    """A connected AMQP transport of the test's own on the test broker, named after its module
    (test_memory_bus overrides it with its in-memory one)."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    made = AmqpTransport(amqp_url, connection_name=f"{name}-test-{secrets.token_hex(3)}")
    await made.connect()
    yield made
    await made.close()
