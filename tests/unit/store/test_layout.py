from datetime import datetime, timezone

import pytest

from services.store import layout

ACCOUNT_ID = "4fe69c5b61015084f1fe5684abc6e502"
RAW = "account/4f/e6/9c5b61015084f1fe5684abc6e502"
ENCODED = "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"


def test_account_db_forms():
    assert layout.account_db(ACCOUNT_ID) == RAW
    assert layout.account_db(ACCOUNT_ID, encoded=True) == ENCODED
    # the fixtures' ids are not hex, but 32 characters: the split is by position
    assert layout.account_db("account0000000000000000000000001") == "account/ac/co/unt0000000000000000000000001"


@pytest.mark.parametrize("form", [ACCOUNT_ID, RAW, ENCODED, ENCODED.replace("%2F", "%2f"), RAW + "-202403"])
def test_every_form_gives_the_account_id(form):
    assert layout.to_account_id(form) == ACCOUNT_ID
    assert layout.account_db(form) == RAW


@pytest.mark.parametrize("bad", ["", "4fe69c5b", "ACCOUNT/4f/e6/x", "account/4f/e6/short", "x" * 33, None])
def test_not_an_account(bad):
    with pytest.raises(layout.InvalidName):
        layout.to_account_id(bad)


def test_normalize_and_encode_db_names():
    assert layout.normalize_db_name(ENCODED) == RAW
    assert layout.normalize_db_name(ENCODED.lower()) == RAW
    assert layout.normalize_db_name(RAW) == RAW
    assert layout.normalize_db_name("system_config") == "system_config"
    assert layout.encode_db_name(RAW) == ENCODED
    assert layout.encode_db_name(ENCODED) == ENCODED
    assert layout.encode_db_name("numbers/+1415") == "numbers%2F+1415"
    for bad in ("", "Accounts", "_users", "1abc", "has space", "account%2Fab%2FCD"):
        with pytest.raises(layout.InvalidName):
            layout.normalize_db_name(bad)


def test_modb_names():
    assert layout.modb(ACCOUNT_ID, 2024, 3) == RAW + "-202403"
    assert layout.modb(ENCODED, 2017, 10, encoded=True) == ENCODED + "-201710"
    when = datetime(2024, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert layout.modb_at(ACCOUNT_ID, when) == RAW + "-202412"
    assert layout.modb_at(ACCOUNT_ID, layout.datetime_to_gregorian(when)) == RAW + "-202412"
    assert layout.parse_account_db(RAW + "-202403") == (ACCOUNT_ID, 2024, 3)
    assert layout.parse_account_db(ENCODED) == (ACCOUNT_ID, None, None)
    assert layout.parse_account_db(RAW + "-202413") is None
    assert layout.parse_account_db("accounts") is None
    with pytest.raises(layout.InvalidName):
        layout.modb(ACCOUNT_ID, 2024, 13)


def test_classify_and_find_modbs():
    assert layout.classify_db(ENCODED) == "account"
    assert layout.classify_db(RAW + "-202403") == "modb"
    assert layout.classify_db("accounts") == "accounts"
    assert layout.classify_db("system_config") == "system_config"
    assert layout.classify_db("numbers/+1415") == "other"
    assert layout.is_account_db(RAW) and not layout.is_account_db(RAW + "-202403")
    assert layout.is_modb(ENCODED + "-202403") and not layout.is_modb(RAW)
    other = layout.account_db("0" * 32)
    names = [RAW, RAW + "-202401", ENCODED + "-202403", other + "-202402", RAW + "-202312", "accounts"]
    assert layout.modbs_of(ACCOUNT_ID, names) == [RAW + "-202403", RAW + "-202401", RAW + "-202312"]


def test_modb_document_ids():
    when = datetime(2024, 3, 5, 12, 7, 3, tzinfo=timezone.utc)
    doc_id = layout.modb_doc_id(when)
    assert doc_id.startswith("202403-") and len(doc_id) == 7 + 32
    assert layout.modb_of_doc_id(ACCOUNT_ID, doc_id) == RAW + "-202403"
    with pytest.raises(layout.InvalidName):
        layout.modb_of_doc_id(ACCOUNT_ID, "vmbox01")


def test_gregorian_seconds():
    assert layout.GREGORIAN_OFFSET == 62167219200
    assert layout.unix_to_gregorian(0) == 62167219200
    assert layout.gregorian_to_unix(63876877623) == 63876877623 - 62167219200
    moment = datetime(2024, 3, 5, 12, 7, 3, tzinfo=timezone.utc)
    seconds = layout.datetime_to_gregorian(moment)
    assert layout.gregorian_to_datetime(seconds) == moment
    assert abs(layout.now_gregorian() - layout.datetime_to_gregorian(datetime.now(timezone.utc))) <= 1
    with pytest.raises(ValueError):
        layout.datetime_to_gregorian(datetime(2024, 3, 5))


def test_new_doc_ids_are_32_hex():
    ids = {layout.new_doc_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_stamp_sets_kazoo_private_fields():
    doc = layout.stamp({"name": "box", "pvt_created": 5}, pvt_type="vmbox", db=ENCODED, now=63876877623)
    assert doc == {"name": "box", "pvt_type": "vmbox", "pvt_account_id": ACCOUNT_ID, "pvt_account_db": ENCODED,
                   "pvt_created": 5, "pvt_modified": 63876877623}
    modb_doc = layout.stamp({}, pvt_type="mailbox_message", db=RAW + "-202403", now=7)
    assert modb_doc["pvt_account_db"] == ENCODED + "-202403" and modb_doc["pvt_created"] == 7
    config = layout.stamp({}, pvt_type="config", db="system_config", now=7)
    assert config["pvt_account_id"] == config["pvt_account_db"] == "system_config"
    assert layout.touch({"pvt_modified": 1}, now=9) == {"pvt_modified": 9}
