"""KAZOO's legacy box (``vmbox01`` of the shared fixtures, messages embedded in the box document).

Decision (docs/deviations.md, "voicemail check"): check reads messages only from the monthly
databases, as KAZOO does at the spec's commit; embedded ``messages`` are neither counted, played
nor changed, and survive every write check makes to the box.
"""

from __future__ import annotations

import json

import pytest

from gateway_sim import Script
from services.store import layout
from testkit.shared import reference
from tests.integration.voicemail.test_check_support import ACCOUNT, DB, USER, owner, stage  # noqa: F401

pytestmark = pytest.mark.integration

LEGACY_BOX = ("kazoo-fixtures", "dbs", "account%2Fac%2Fco%2Funt0000000000000000000000001", "docs", "vmbox01.json")


async def test_legacy_embedded_messages_are_ignored_and_kept(stage):
    legacy = json.loads(reference(*LEGACY_BOX).read_text())
    assert len(legacy["messages"]) == 10
    doc = {k: v for k, v in legacy.items() if k != "_rev"}
    doc.update({"_id": "1e6ac1e6ac1e6ac1e6ac1e6ac1e6ac1e", "owner_id": USER, "is_setup": True, "pin": "1234",
                "pvt_account_id": ACCOUNT, "pvt_account_db": layout.account_db(ACCOUNT, encoded=True)})
    await stage.store.put(DB, doc)
    owner(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-no_messages", press="5").on_prompt("vm-settings_menu", press="3")
                            .on_prompt("vm-enter_new_pin", press="4321#")
                            .on_prompt("vm-enter_new_pin_confirm", press="4321#")
                            .on_prompt("vm-settings_menu", hangup=True),
                            data={"action": "check", "id": doc["_id"]})
    assert out.prompts[:2] == ["vm-no_messages", "vm-main_menu"]
    assert "vm-pin_set" in out.prompts
    stored = await stage.store.get(DB, doc["_id"])
    assert stored["pin"] == "4321"
    assert stored["messages"] == legacy["messages"]
    assert [b["Messages-New"] for b in out.box_mwi(f"3367@acme.example.com")] and \
        all(b["Messages-New"] == 0 for b in out.box_mwi("3367@acme.example.com"))
