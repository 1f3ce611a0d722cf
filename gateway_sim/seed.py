"""Putting calling devices into a store, the way KAZOO keeps them.

``kzvoice call`` and ``Gateway.place_call`` find the caller from three
documents of the account database (``account/xx/yy/rest``): the device
(``pvt_type`` ``device``: ``sip.username``, ``owner_id``, ``caller_id``), its
owner (``pvt_type`` ``user``) and the account document (``realm``).  These
helpers write them (create or overwrite), e.g. for tests and demos::

    await seed_account(store, ACCOUNT, realm="acme.example.com")
    user = await seed_user(store, ACCOUNT, first_name="Ann", caller_id_number="356")
    device = await seed_device(store, ACCOUNT, username="user_356", owner_id=user["_id"])
    result = await gateway.place_call(account_id=ACCOUNT, device_id=device["_id"], dial="*97")

Real KAZOO documents (``kzvoice import`` of a fixture folder) work the same way.
"""

from __future__ import annotations

from typing import Any

from services.store import layout


def _caller_id(name: str | None, number: str | None) -> dict[str, Any]:
    internal = {k: v for k, v in (("name", name), ("number", number)) if v}
    return {"caller_id": {"internal": internal}} if internal else {}


async def seed_account(store, account_id: str, *, realm: str, name: str | None = None,
                       language: str | None = None, **extra: Any) -> dict[str, Any]:
    """The account document, in the account database and in ``accounts``."""
    db = layout.account_db(account_id)
    await store.create_db(db)
    await store.create_db(layout.ACCOUNTS_DB)
    doc: dict[str, Any] = {"_id": account_id, "name": name or realm, "realm": realm, **extra}
    if language:
        doc["language"] = language
    layout.stamp(doc, pvt_type="account", db=db)
    saved = await store.put_over(db, doc)
    await store.put_over(layout.ACCOUNTS_DB, dict(doc))
    return saved


async def seed_user(store, account_id: str, user_id: str | None = None, *, first_name: str = "",
                    last_name: str = "", username: str | None = None, caller_id_name: str | None = None,
                    caller_id_number: str | None = None, language: str | None = None,
                    **extra: Any) -> dict[str, Any]:
    """A user (a device's owner)."""
    db = layout.account_db(account_id)
    doc: dict[str, Any] = {"_id": user_id or layout.new_doc_id(), "first_name": first_name,
                           "last_name": last_name, "enabled": True, **_caller_id(caller_id_name, caller_id_number),
                           **extra}
    if username:
        doc["username"] = username
    if language:
        doc["language"] = language
    layout.stamp(doc, pvt_type="user", db=db)
    return await store.put_over(db, doc)


async def seed_device(store, account_id: str, device_id: str | None = None, *, username: str,
                      owner_id: str | None = None, name: str | None = None, caller_id_name: str | None = None,
                      caller_id_number: str | None = None, password: str = "secret",
                      language: str | None = None, **extra: Any) -> dict[str, Any]:
    """A SIP device; ``owner_id`` names its user."""
    db = layout.account_db(account_id)
    doc: dict[str, Any] = {"_id": device_id or layout.new_doc_id(), "name": name or username,
                           "device_type": "sip_device", "enabled": True,
                           "sip": {"method": "password", "username": username, "password": password},
                           **_caller_id(caller_id_name, caller_id_number), **extra}
    if owner_id:
        doc["owner_id"] = owner_id
    if language:
        doc["language"] = language
    layout.stamp(doc, pvt_type="device", db=db)
    return await store.put_over(db, doc)
