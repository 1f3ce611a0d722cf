"""Store tests: the backends come from tests/integration/conftest.py."""
