import pytest


@pytest.fixture
def broker_or_none(request):
    """The broker fixture for rabbitmq-parametrised tests, None for the memory bus."""
    if "rabbitmq" in request.node.callspec.params.values():
        return request.getfixturevalue("broker")
    return None
