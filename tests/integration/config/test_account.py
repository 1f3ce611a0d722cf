"""config.md section 7, CFG-039 ... CFG-049: account-level reads (Account-ID, Strategy)."""

from __future__ import annotations

from services.store import layout
from services.store.importer import import_tree
from testkit.shared import kazoo_fixtures
from tests.integration.config.conftest import get_doc, put_doc, system_doc

SC = layout.SYSTEM_CONFIG_DB

MASTER = "1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
RESELLER = "2bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
PARENT = "3ccccccccccccccccccccccccccccccc"
ACCOUNT = "4ddddddddddddddddddddddddddddddd"


async def make_account(store, account_id: str, *, tree: list[str], reseller: bool = False,
                       reseller_id: str | None = None, services: dict | None = None) -> None:
    db = layout.account_db(account_id)
    doc = {"_id": account_id, "pvt_type": "account", "pvt_tree": tree}
    if reseller:
        doc["pvt_reseller"] = True
    if reseller_id:
        doc["pvt_reseller_id"] = reseller_id
    await put_doc(store, db, doc)
    if services is not None:
        await put_doc(store, "services", {"_id": account_id, "pvt_type": "service", **services})


async def account_config(store, account_id: str, category: str, **values) -> dict:
    return await put_doc(store, layout.account_db(account_id),
                         {"_id": f"configs_{category}", "pvt_type": "account_config", **values})


async def reseller_tree(store) -> None:
    """master -> RESELLER (a reseller) -> ACCOUNT, facts on the account documents."""
    await make_account(store, MASTER, tree=[], reseller=True, reseller_id=MASTER)
    await make_account(store, RESELLER, tree=[MASTER], reseller=True, reseller_id=MASTER)
    await make_account(store, ACCOUNT, tree=[MASTER, RESELLER], reseller_id=RESELLER)


async def db_revs(store) -> dict:
    revs = {}
    for db in await store.list_dbs():
        for row in await store.all_docs(db):
            revs[(db, row["id"])] = row["rev"]
    return revs


async def test_cfg_039_account_strategy(config_svc, probe, store):
    await reseller_tree(store)
    await account_config(store, ACCOUNT, "callflow", voicemail={"max_message_count": 50})
    await system_doc(store, "callflow", default={"voicemail": {"max_message_count": 100}})
    key = ["voicemail", "max_message_count"]
    assert (await probe.get("callflow", key, **{"Account-ID": ACCOUNT, "Strategy": "account"}))["Value"] == 50
    before = await db_revs(store)
    reply = await probe.get("callflow", key, Default=7, **{"Account-ID": RESELLER, "Strategy": "account"})
    assert reply["Value"] == 7
    reply = await probe.get("callflow", key, **{"Account-ID": RESELLER, "Strategy": "account"})
    assert reply["Value"] == "undefined"
    assert await db_revs(store) == before


async def test_cfg_040_global_is_the_default_strategy(config_svc, probe, store):
    await reseller_tree(store)
    await account_config(store, ACCOUNT, "c40", k="a")
    await system_doc(store, "c40", default={"k": "s"})
    reply = await probe.get("c40", "k", **{"Account-ID": ACCOUNT})
    assert reply["Value"] == "a" and reply["Account-ID"] == ACCOUNT


async def test_cfg_041_global_skips_reseller_when_account_has_a_doc(config_svc, probe, store):
    await reseller_tree(store)
    await account_config(store, ACCOUNT, "c41", other="x")
    await account_config(store, RESELLER, "c41", k="r")
    await system_doc(store, "c41", default={"k": "s"})
    assert (await probe.get("c41", "k", **{"Account-ID": ACCOUNT, "Strategy": "global"}))["Value"] == "s"


async def test_cfg_042_global_uses_reseller_doc_when_account_has_none(config_svc, probe, store):
    await reseller_tree(store)
    await account_config(store, RESELLER, "c42", k="r")
    await system_doc(store, "c42", default={"k": "s"})
    assert (await probe.get("c42", "k", **{"Account-ID": ACCOUNT, "Strategy": "global"}))["Value"] == "r"


async def test_cfg_043_global_falls_to_system_and_writes_back(config_svc, probe, store):
    await reseller_tree(store)
    await system_doc(store, "c43", default={})
    reply = await probe.get("c43", "k", Default="d", **{"Account-ID": ACCOUNT, "Strategy": "global"})
    assert reply["Value"] == "d"
    assert (await get_doc(store, SC, "c43"))["default"] == {"k": "d"}
    await probe.event("doc_edited.system_config.config.c43")


async def test_cfg_044_own_reseller_consults_no_reseller_doc(config_svc, probe, store):
    await make_account(store, MASTER, tree=[], reseller=True, reseller_id=MASTER)
    await make_account(store, RESELLER, tree=[MASTER], reseller=True, reseller_id=RESELLER)
    await put_doc(store, SC, {"_id": "accounts", "default": {"master_account_id": MASTER}})
    await account_config(store, MASTER, "c44", k="m")
    await system_doc(store, "c44", default={"k": "s"})
    assert (await probe.get("c44", "k", **{"Account-ID": RESELLER, "Strategy": "global"}))["Value"] == "s"


async def test_cfg_045_reseller_strategy_ignores_account_doc(config_svc, probe, store):
    # reseller facts from services documents, as real KAZOO keeps them
    await make_account(store, RESELLER, tree=[MASTER], services={"pvt_reseller": True, "pvt_reseller_id": MASTER})
    await make_account(store, ACCOUNT, tree=[MASTER, RESELLER],
                       services={"pvt_reseller": False, "pvt_reseller_id": RESELLER})
    await account_config(store, ACCOUNT, "c45", k="a")
    await account_config(store, RESELLER, "c45", k="r")
    await system_doc(store, "c45", default={"k": "s"})
    assert (await probe.get("c45", "k", **{"Account-ID": ACCOUNT, "Strategy": "reseller"}))["Value"] == "r"


async def test_cfg_046_hierarchy_merge_deep_merges(config_svc, probe, store):
    await reseller_tree(store)
    await system_doc(store, "c46", default={"o": {"x": 1, "y": 1}})
    await account_config(store, RESELLER, "c46", o={"y": 2, "z": 2})
    await account_config(store, ACCOUNT, "c46", o={"z": 3})
    merged = await probe.get("c46", "o", **{"Account-ID": ACCOUNT, "Strategy": "hierarchy_merge"})
    assert merged["Value"] == {"x": 1, "y": 2, "z": 3}
    plain = await probe.get("c46", "o", **{"Account-ID": ACCOUNT, "Strategy": "global"})
    assert plain["Value"] == {"z": 3}


async def test_cfg_047_docs_above_the_first_reseller_are_ignored(config_svc, probe, store):
    await make_account(store, MASTER, tree=[], reseller=True)
    await make_account(store, RESELLER, tree=[MASTER], reseller=True, reseller_id=MASTER)
    await make_account(store, PARENT, tree=[MASTER, RESELLER], reseller_id=RESELLER)
    await make_account(store, ACCOUNT, tree=[MASTER, RESELLER, PARENT], reseller_id=RESELLER)
    await account_config(store, MASTER, "c47", k="master")
    await account_config(store, PARENT, "c47", other="p")
    await system_doc(store, "c47", default={"k": "system"})
    reply = await probe.get("c47", "k", **{"Account-ID": ACCOUNT, "Strategy": "hierarchy_merge"})
    assert reply["Value"] == "system"


async def test_cfg_048_hierarchy_merge_writes_back_when_nothing_exists(config_svc, probe, store):
    await reseller_tree(store)
    assert await get_doc(store, SC, "c48") is None
    reply = await probe.get("c48", "k", Default=7, **{"Account-ID": ACCOUNT, "Strategy": "hierarchy_merge"})
    assert reply["Value"] == 7
    assert (await get_doc(store, SC, "c48"))["default"] == {"k": 7}


async def test_cfg_049_account_id_forms(config_svc, probe, store):
    await reseller_tree(store)
    await account_config(store, ACCOUNT, "c49", k="a")
    await system_doc(store, "c49", default={"k": "s"})
    forms = [ACCOUNT, layout.account_db(ACCOUNT, encoded=True), layout.account_db(ACCOUNT),
             layout.account_db(ACCOUNT, encoded=True).replace("%2F", "%2f")]
    values = [(await probe.get("c49", "k", **{"Account-ID": form}))["Value"] for form in forms]
    assert values == ["a"] * len(forms)


async def test_hierarchy_merge_on_kazoo_fixtures(config_svc, probe, store):
    """KAZOO's own account tree (master 1 -> reseller 2 -> parent 3 -> child 4) and config documents."""
    await import_tree(store, kazoo_fixtures(), progress=lambda _l: None, error=lambda _l: None)
    child = "account0000000000000000000000004"
    merged = (await probe.get("test_account_config", "root_obj_key",
                              **{"Account-ID": child, "Strategy": "hierarchy_merge"}))["Value"]
    assert merged["b_key"] == "sub_account"                      # the account's own value wins
    assert merged["parent"] == "parent_only"                     # from the parent (3)
    assert merged["reseller_only"] == "reseller_only"            # from the reseller (2)
    assert merged["system_key"] == "system_only"                 # from system_config
    assert "reseller_system_only" not in merged                  # only in master (1): above the reseller
    # system < reseller < parent < child, where the child's {} adds nothing
    assert merged["obj_empty_test"]["obj_empty_sometimes"] == {"from": "reseller", "system": True,
                                                                "reseller": True, "parent": True}
    # global: the account has a doc, so its own object is returned whole
    own = (await probe.get("test_account_config", "root_obj_key", **{"Account-ID": child}))["Value"]
    assert own["obj_key"] == {"from": "sub_account"} and "system_key" not in own
    # global with a key the account lacks goes straight to the system value
    value = (await probe.get("test_account_config", ["root_obj_key", "system_key"], **{"Account-ID": child}))
    assert value["Value"] == "system_only"
