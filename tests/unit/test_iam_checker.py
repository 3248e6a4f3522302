"""The least-privilege checker of tests/iam.py itself: what it asks of a policy, and when it says no."""

from __future__ import annotations

from typing import Any

from tests.iam import Call, Resources, allowed, required

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:f"


class FakeResources(Resources):
    def __init__(self) -> None:  # no stack: the lookups the checks below need
        self.tables = {"t": TABLE}
        self.queues = {"https://q": ("arn:aws:sqs:us-east-1:123456789012:q", "key-1")}
        self.keys = {"key-1": "arn:aws:kms:us-east-1:123456789012:key/key-1"}
        self.buses = {}
        self.functions = {"f": FUNCTION}


def test_a_transaction_needs_each_items_own_action() -> None:
    call = Call(
        "F",
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]},
    )
    assert required(call, FakeResources()) == [("dynamodb:PutItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE)]


def test_an_index_query_names_the_index_and_an_encrypted_queue_its_key() -> None:
    query = Call("F", "dynamodb", "Query", {"TableName": "t", "IndexName": "by_time"})
    assert required(query, FakeResources()) == [("dynamodb:Query", f"{TABLE}/index/by_time")]
    send = Call("F", "sqs", "SendMessage", {"QueueUrl": "https://q"})
    key = "arn:aws:kms:us-east-1:123456789012:key/key-1"
    assert ("kms:GenerateDataKey", key) in required(send, FakeResources())


def test_a_permission_on_the_table_does_not_cover_its_index_or_another_action() -> None:
    policy: list[dict[str, Any]] = [{"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": TABLE}]
    assert allowed(policy, "dynamodb:Query", TABLE)
    assert not allowed(policy, "dynamodb:Query", f"{TABLE}/index/by_time")
    assert not allowed(policy, "dynamodb:PutItem", TABLE)
    wildcard = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/exports/*"}]
    assert allowed(wildcard, "s3:GetObject", "arn:aws:s3:::b/exports/1/x.json")
    assert not allowed(wildcard, "s3:GetObject", "arn:aws:s3:::b/audit-exports/x.json")


def test_an_invoke_of_an_alias_needs_a_permission_on_the_alias() -> None:
    """As IAM checks lambda:InvokeFunction: the unqualified ARN covers $LATEST only, an alias's ARN that alias."""
    alias = f"{FUNCTION}:live"
    for params in ({"FunctionName": alias}, {"FunctionName": "f:live"}, {"FunctionName": "f", "Qualifier": "live"}):
        assert required(Call("M", "lambda", "Invoke", params), FakeResources()) == [("lambda:InvokeFunction", alias)]
    unqualified = Call("M", "lambda", "Invoke", {"FunctionName": "f"})
    assert required(unqualified, FakeResources()) == [("lambda:InvokeFunction", FUNCTION)]
    on_the_function = [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FUNCTION}]
    on_the_alias = [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": alias}]
    assert not allowed(on_the_function, "lambda:InvokeFunction", alias)
    assert not allowed(on_the_alias, "lambda:InvokeFunction", FUNCTION)
    assert allowed(on_the_alias, "lambda:InvokeFunction", alias)
