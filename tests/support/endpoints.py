"""A caller's endpoint for tests that place calls without device documents in the store."""

from __future__ import annotations

import secrets

from gateway_sim.routing import Endpoint


def new_endpoint(account_id: str) -> Endpoint:
    return Endpoint(account_id=account_id, realm="acme.example.com", username="user_356",
                    caller_id_name="web phone", caller_id_number="356", device_id=secrets.token_hex(16),
                    owner_id=secrets.token_hex(16))
