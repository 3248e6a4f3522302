"""The arithmetic of the bench's cost model (bench/cost.py) on known inputs, so that it cannot drift silently."""

from __future__ import annotations

import math

import pytest

from bench import cost
from bench.cost import (
    GB,
    ITEM_OVERHEAD,
    MILLION,
    PRICES,
    STANDARD,
    STANDARD_IA,
    Index,
    LambdaUse,
    Measured,
    Table,
)
from localcloud.template import load

ITEM = {
    "pk": {"S": "7#audit"},  # 2 + 7
    "sk": {"S": "e1"},  # 2 + 2
    "ts_key": {"S": "t#e1"},  # 6 + 4
    "author_key": {"S": "9"},  # 10 + 1
    "pii": {"B": b"x" * 600},  # 3 + 600
}
ITEM_BYTES = 9 + 4 + 10 + 11 + 603  # names plus values: 637
BY_TIME = Index("by_time", ("pk", "ts_key"))
BY_AUTHOR = Index("by_author", ("author_key", "ts_key"))


def table(*indexes: Index, table_class: str = STANDARD, pitr: bool = True) -> Table:
    return Table("Log", ("pk", "sk"), table_class, pitr, indexes)


def test_sizes_follow_dynamodb_rules() -> None:
    assert cost.item_size(ITEM) == ITEM_BYTES
    assert cost.item_size({"n": {"N": "123.45"}}) == 1 + 4  # 5 significant digits: 3 bytes + 1
    assert cost.item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert cost.item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)


def test_an_index_projecting_all_is_billed_the_whole_item() -> None:
    parts = cost.stored_bytes(ITEM, table(BY_TIME))
    assert parts == {"Log": ITEM_BYTES + ITEM_OVERHEAD, "Log.by_time": ITEM_BYTES + ITEM_OVERHEAD}
    assert cost.write_units(ITEM, table(BY_TIME)) == {"Log": 1, "Log.by_time": 1}


def test_a_keys_only_index_is_billed_its_keys_and_the_tables() -> None:
    keys_only = Index("by_author", ("author_key", "ts_key"), "KEYS_ONLY")
    parts = cost.stored_bytes(ITEM, table(keys_only))
    assert parts["Log.by_author"] == (9 + 4 + 10 + 11) + ITEM_OVERHEAD  # pk, sk, ts_key, author_key


def test_an_include_index_adds_only_the_named_attributes() -> None:
    include = Index("by_time", ("pk", "ts_key"), "INCLUDE", ("author_key",))
    assert cost.index_item(ITEM, table(include), include) == {k: ITEM[k] for k in ("pk", "sk", "ts_key", "author_key")}


def test_a_sparse_index_holds_only_items_with_its_keys() -> None:
    without_author = {k: v for k, v in ITEM.items() if k != "author_key"}
    assert set(cost.stored_bytes(without_author, table(BY_TIME, BY_AUTHOR))) == {"Log", "Log.by_time"}


def test_write_units_are_per_started_kb_doubled_in_a_transaction() -> None:
    big = {**ITEM, "pii": {"B": b"x" * 2000}}  # 2,034 bytes: 2 KB started
    assert cost.write_units(big, table(BY_TIME)) == {"Log": 2, "Log.by_time": 2}
    assert cost.write_units(big, table(), transactional=True) == {"Log": 4}
    keys_only = Index("k", ("pk", "ts_key"), "KEYS_ONLY")
    assert cost.write_units(big, table(keys_only)) == {"Log": 2, "Log.k": 1}


def test_read_units_per_4kb_half_when_eventually_consistent() -> None:
    five_kb = {"b": {"B": b"x" * 5000}}
    assert cost.read_units([five_kb], consistent=True) == 2
    assert cost.read_units([five_kb], consistent=False) == 1
    assert cost.read_units([ITEM, ITEM], consistent=True) == 1  # a query: the whole rounded once
    assert cost.read_units([ITEM, ITEM], consistent=True, each=True) == 2  # a batch get: each item
    assert cost.read_units([], consistent=True, each=True) == 1  # nothing found still costs a unit


def test_a_short_kms_ciphertext_is_counted_at_aws_kms_size() -> None:
    from aws_encryption_sdk.identifiers import Algorithm, ContentType, SerializationVersion
    from aws_encryption_sdk.internal.formatting.serialize import serialize_header
    from aws_encryption_sdk.structures import EncryptedDataKey, MasterKeyInfo, MessageHeader

    header = MessageHeader(
        version=SerializationVersion.V2,
        algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        message_id=b"\0" * 32,
        encryption_context={},
        encrypted_data_keys={
            EncryptedDataKey(key_provider=MasterKeyInfo("aws-kms", b"arn:aws:kms:key"), encrypted_data_key=b"k" * 96)
        },
        content_type=ContentType.FRAMED_DATA,
        frame_length=4096,
        commitment_key=b"\0" * 32,
    )
    message = serialize_header(header)
    item = {"pii": {"B": message}, "pk": {"S": "p"}}
    assert cost.item_size(cost.as_in_aws(item)) == cost.item_size(item) + (cost.AWS_KMS_DATA_KEY_CIPHERTEXT - 96)
    assert cost.as_in_aws({"b": {"B": b"not a message"}}) == {"b": {"B": b"not a message"}}


def measured(**changes: object) -> Measured:
    values: dict[str, object] = {
        "events": 1_000,
        "event_bytes": 600,
        "lambdas": {"ingest function": LambdaUse(invocations=10, billed_ms=100, memory_mb=512, batch=100)},
        "write_units": {"Log": 1_000, "Log.by_time": 1_000},
        "read_units": {},
        "stored_bytes": {"Log": 1_000_000, "Log.by_time": 1_000_000},
        "stored_items": {"Log": 1_000, "Log.by_time": 1_000},
        "kms_requests": 0,
        "kms_sign_requests": 0,
        "s3_puts": 0,
        "s3_stored_bytes": 0,
    }
    values.update(changes)
    return Measured(**values)  # type: ignore[arg-type]


def line(lines: list[cost.Line], item: str) -> float:
    (found,) = [entry.dollars for entry in lines if entry.item == item]
    return found


def test_ingest_lines_per_million_events() -> None:
    lines = cost.cost_lines(measured(), {"Log": table(BY_TIME)})
    assert line(lines, "EventBridge: the event put on the bus") == pytest.approx(1.00)
    # 1 send + (receive + delete) of 10 messages of 600 B (one 64 KB chunk each call) per 10 events
    assert line(lines, "SQS: send, receive, delete") == pytest.approx(1.2 * 0.40)
    # 10,000 invocations per million events, 0.1 s x 0.5 GB each
    assert line(lines, "Lambda: ingest function") == pytest.approx(10_000 * (0.20 / MILLION + 0.05 * 0.0000133334))
    assert line(lines, "DynamoDB writes: Log") == pytest.approx(2 * 0.625)


def test_standard_ia_uses_its_own_prices() -> None:
    lines = cost.cost_lines(measured(), {"Log": table(BY_TIME, table_class=STANDARD_IA)})
    assert line(lines, "DynamoDB writes: Log") == pytest.approx(2 * 0.78)
    # 1,000 bytes per event in the table: a million events are 10**9 bytes, kept 12 months
    assert line(lines, "storage: Log") == pytest.approx(10**9 / GB * 0.10 * 12)
    assert line(lines, "storage: Log.by_time") == pytest.approx(10**9 / GB * 0.10 * 12)
    # point-in-time recovery: the table only, at one price for either class
    assert line(lines, "point-in-time recovery: Log") == pytest.approx(10**9 / GB * 0.20 * 12)
    assert [entry.item for entry in lines].count("point-in-time recovery: Log") == 1


def test_a_table_without_point_in_time_recovery_pays_none() -> None:
    lines = cost.cost_lines(measured(), {"Log": table(BY_TIME, pitr=False)})
    assert not [entry for entry in lines if entry.item.startswith("point-in-time recovery")]


def test_counter_write_units_are_priced_at_the_counters_class() -> None:
    tables = {"Log": table(BY_TIME), "CountersTable": Table("CountersTable", ("pk", "sk"), STANDARD_IA)}
    lines = cost.cost_lines(measured(write_units={"Log": 1000, "CountersTable": 20}), tables)
    assert line(lines, "DynamoDB writes: CountersTable") == pytest.approx(0.02 * 0.78)
    assert line(lines, "DynamoDB writes: Log") == pytest.approx(0.625)


def test_the_report_compares_the_total_with_the_target_and_workos() -> None:
    lines = [
        cost.Line("ingest", "a", "", 4.0),
        cost.Line("one year kept", "b", "", 5.9),
    ]
    text, passed = cost.report(lines, events=1)
    assert passed
    assert "9.90" in text and f"{9.9 / 1188:.2%}" in text
    _text, passed = cost.report([*lines, cost.Line("ingest", "c", "", 0.2)], events=1)
    assert not passed  # $10.10 > $10


def test_prices_are_the_list_prices_the_docs_quote() -> None:
    assert PRICES.dynamodb[STANDARD].write_unit * MILLION == pytest.approx(0.625)
    assert PRICES.dynamodb[STANDARD_IA].write_unit * MILLION == pytest.approx(0.78)
    assert PRICES.dynamodb[STANDARD].storage_gb_month == 0.25
    assert PRICES.dynamodb[STANDARD_IA].storage_gb_month == 0.10
    assert PRICES.pitr_gb_month == 0.20
    assert math.isclose(cost.WORKOS_YEAR, 1188)


def test_the_template_is_read_as_declared() -> None:
    tables = cost.tables_from_template(load())
    log = tables["AuditLogTable"]
    assert log.table_class == STANDARD_IA
    assert log.pitr
    assert {index.name: index.projection for index in log.indexes} == {"by_time": "ALL", "by_author": "ALL"}


def test_counters_at_other_batch_sizes_are_shown_but_not_in_the_total() -> None:
    tables = {"Log": table(BY_TIME), "CountersTable": Table("CountersTable", ("pk", "sk"), STANDARD)}
    base = cost.cost_lines(measured(), tables)
    lines = cost.cost_lines(measured(counter_units_by_batch={1: 22.0, 100: 9.0}), tables)
    assert line(lines, "DynamoDB writes: CountersTable, 1 record per stream batch") == pytest.approx(22 * 0.625)
    assert line(lines, "DynamoDB writes: CountersTable, 100 records per stream batch") == pytest.approx(9 * 0.625)
    assert cost.totals(lines) == cost.totals(base)
    text, _passed = cost.report(lines, events=1_000)
    assert "1 record per stream batch" in text.splitlines()[-1]
