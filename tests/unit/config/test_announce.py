"""config_svc.announce: the doc_update payload (config.md 4.6)."""

from services.config.announce import doc_update_fields
from services.messages import catalogue


def test_system_doc_event_fields_and_routing_key():
    doc = {"_id": "callflow.park", "_rev": "3-abc", "pvt_type": "config", "pvt_account_id": "system_config",
           "pvt_created": 63870000000, "pvt_modified": 63870000100}
    fields = doc_update_fields("edited", database="system_config", doc=doc)
    assert fields["ID"] == "callflow.park" and fields["Database"] == "system_config"
    assert fields["Rev"] == "3-abc" and fields["Type"] == "config" and fields["Is-Soft-Deleted"] is False
    assert (fields["Date-Created"], fields["Date-Modified"]) == (63870000000, 63870000100)
    assert fields["App-Name"] == "datamgr" and fields["Origin-Cache"] == "kazoo_data_cache"
    assert "Account-ID" not in fields
    spec = catalogue.DOC_CHANGES["doc_edited"]
    assert spec.routing_key(fields, None) == "doc_edited.system_config.config.callflow%2Epark"


def test_account_doc_event_carries_account_id():
    db = "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"
    doc = {"_id": "configs_callflow", "_rev": "1-a", "pvt_type": "account_config",
           "pvt_account_id": "4fe69c5b61015084f1fe5684abc6e502", "pvt_created": 1, "pvt_modified": 1}
    fields = doc_update_fields("created", database=db, doc=doc)
    assert fields["Account-ID"] == "4fe69c5b61015084f1fe5684abc6e502"
    assert catalogue.DOC_CHANGES["doc_created"].routing_key(fields, None) == \
        f"doc_created.{db}.account_config.configs_callflow"
