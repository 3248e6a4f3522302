"""Work-arounds for gaps in the pinned moto (5.2.1), applied by the local runtime.

- Step Functions: ``StartExecution`` deep-copies the state machine, past
  executions included; a finished execution holds a lock, so every execution
  after the first one fails with "cannot pickle '_thread.RLock' object". The
  clone only needs the definition and settings, so it is made without the
  executions (and shares the backend, which it never changes).
- DynamoDB ``TransactWriteItems``: moto deep-copies every table the
  transaction touches and, when it is cancelled, swaps the copies in. The
  writes made before the failing item have already been streamed, and the
  stream a poller holds is no longer the table's: on ``make run`` sealing
  stopped for good after the first 409. On AWS a cancelled transaction writes
  and streams nothing. Here every condition is checked first; only when all
  hold are the writes made, their stream records held back until the last one
  succeeded, and a write that still fails (an invalid update) is undone item
  by item, streaming nothing. No table is copied, so a transaction costs the
  same on a large table as on a small one.
- SQS ``ReceiveMessage`` checked each message's retention by computing all of
  the queue's attributes (approximate counts over every message) per message,
  so a receive cost grew with the square of the queue's depth: under a burst
  the local cloud ingested ~25 events/s. The retention check reads the
  queue's retention period instead, and a message's visible/delayed test
  reads the clock with ``time.time()`` rather than through two datetime
  conversions (the same value; moto's way only matters under freezegun).
- EventBridge parsed its default input template's JSONPath expressions (a
  yacc parser built from scratch) for every event and target; the parsed
  expressions are cached.
- Concurrency: moto's backends are plain dictionaries with no locking, and
  the local cloud calls them from many threads (the API's requests, one
  poller per event source, the server's clients). Under load a query
  iterating a table while another thread wrote to it failed with "dictionary
  changed size during iteration", a 500 no AWS endpoint gives. Every action
  runs under one re-entrant lock, as if each were atomic, which is what AWS's
  API promises per call (a transaction's conditions and writes included).
  Lambda's Invoke is left out: it runs a function, whose own calls take the lock.
- The server listed moto's package directory on disk for every request to
  find its backend; the list is read once.
- Step Functions validated a definition by parsing it with its ANTLR grammar
  on every ``CreateStateMachine`` (a sixth of a second for ours); a definition
  once found valid is not parsed again for validation (an invalid one still is,
  and still fails).
- KMS generated an RSA-2048 private key for every new key, symmetric and HMAC
  keys too, which never use it (a tenth of a second each). The asymmetric key
  pair is made on first use (GetPublicKey, Sign, Verify) instead, the same key
  for the rest of the key's life.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any


def install() -> None:
    _install_one_action_at_a_time()
    _install_state_machine_copy()
    _install_atomic_transactions()
    _install_cheap_retention_check()
    _install_cheap_message_clock()
    _install_jsonpath_cache()
    _install_backend_list_cache()
    _install_definition_check_cache()
    _install_lazy_key_pairs()


_ACTIONS = threading.RLock()


def _one_at_a_time(action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(action)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        if type(self).__module__.startswith("moto.awslambda"):
            return action(self, *args, **kwargs)
        with _ACTIONS:
            return action(self, *args, **kwargs)

    locked._localcloud_locked = True  # type: ignore[attr-defined]
    return locked


def _install_one_action_at_a_time() -> None:
    from moto.core.responses import BaseResponse
    from moto.s3.responses import S3Response

    for owner, name in ((BaseResponse, "call_action"), (S3Response, "bucket_response"), (S3Response, "key_response")):
        action = getattr(owner, name)
        if not getattr(action, "_localcloud_locked", False):
            setattr(owner, name, _one_at_a_time(action))


def _install_backend_list_cache() -> None:
    from moto import backends

    if getattr(backends, "_localcloud_cached", False):
        return
    names = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: names
    backends._localcloud_cached = True  # type: ignore[attr-defined]


def _install_definition_check_cache() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    if getattr(StepFunctionsParserBackend, "_localcloud_checked", False):
        return
    validate = StepFunctionsParserBackend._validate_definition
    valid: set[str] = set()

    def _validate_definition(definition: str) -> None:
        if definition not in valid:
            validate(definition)  # raises InvalidDefinition: never remembered
            valid.add(definition)

    StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)  # type: ignore[method-assign]
    StepFunctionsParserBackend._localcloud_checked = True  # type: ignore[attr-defined]


class _KeyPairOnFirstUse:
    """Stands for moto's private key of a KMS key: made when first used, then used for good.

    No lock of its own: KMS actions run one at a time (``_install_one_action_at_a_time``)."""

    def __init__(self, make: Callable[[str], Any], key_spec: str) -> None:
        self._make = make
        self._key_spec = key_spec
        self._key: Any = None

    def __getattr__(self, name: str) -> Any:  # only for what this object does not have itself
        if name.startswith("__") or name in ("_make", "_key_spec", "_key"):
            raise AttributeError(name)
        if self._key is None:
            self._key = self._make(self._key_spec)
        return getattr(self._key, name)


def _install_lazy_key_pairs() -> None:
    from moto.kms import models

    if getattr(models, "_localcloud_lazy_keys", False):
        return
    make: Callable[[str], Any] = models.generate_private_key  # type: ignore[attr-defined]

    def generate_private_key(key_spec: str) -> Any:
        return _KeyPairOnFirstUse(make, key_spec)

    models.generate_private_key = generate_private_key  # type: ignore[attr-defined]
    models._localcloud_lazy_keys = True  # type: ignore[attr-defined]


def _install_cheap_message_clock() -> None:
    import time

    from moto.sqs.models import Message

    if getattr(Message, "_localcloud_clock", False):
        return
    Message.visible = property(lambda self: time.time() * 1000 > self.visible_at)  # type: ignore[method-assign,assignment]
    Message.delayed = property(lambda self: time.time() * 1000 < self.delayed_until)  # type: ignore[method-assign,assignment]
    Message._localcloud_clock = True  # type: ignore[attr-defined]


def _install_jsonpath_cache() -> None:
    import functools

    import jsonpath_ng.ext

    if getattr(jsonpath_ng.ext, "_localcloud_cached", False):
        return
    cached = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)  # type: ignore[attr-defined]
    jsonpath_ng.ext.parse = cached  # type: ignore[attr-defined]
    jsonpath_ng.ext._localcloud_cached = True  # type: ignore[attr-defined]


def _install_cheap_retention_check() -> None:
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend, "_localcloud_retention", False):
        return

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    SQSBackend._localcloud_retention = True  # type: ignore[attr-defined]


def _install_state_machine_copy() -> None:
    from moto.stepfunctions.models import StateMachine

    if getattr(StateMachine, "_localcloud_deepcopy", False):
        return

    def _deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        clone = copy.copy(self)
        for name, value in self.__dict__.items():
            if name == "executions":
                setattr(clone, name, [])
            elif name != "backend":
                setattr(clone, name, copy.deepcopy(value, memo))
        return clone

    StateMachine.__deepcopy__ = _deepcopy  # type: ignore[attr-defined]
    StateMachine._localcloud_deepcopy = True  # type: ignore[attr-defined]


def _install_atomic_transactions() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_localcloud_atomic", False):
        return
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    DynamoDBBackend._localcloud_atomic = True  # type: ignore[attr-defined]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    targets: set[tuple[str, str]] = set()
    prepared: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    reasons: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for entry in transact_items:  # 1. check everything, change nothing
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        try:
            key = _checked_key(self, op_type, op, targets)
            reasons.append((None, None, None))
            prepared.append((op_type, op, key))
        except MultipleTransactionsException:
            raise
        except ConditionalCheckFailed as failed:
            reasons.append(("ConditionalCheckFailed", str(failed.message), getattr(failed, "item", None)))
        except Exception as error:  # noqa: BLE001 - reported as the item's cancellation reason, as moto does
            reasons.append((type(error).__name__, str(error), None))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    _apply(self, prepared)


def _checked_key(backend: Any, op_type: str, op: dict[str, Any], targets: set[tuple[str, str]]) -> dict[str, Any]:
    """The item's key, once its condition holds (ConditionalCheckFailed otherwise)."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import ConditionalCheckFailed, MultipleTransactionsException

    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError("Unsupported transaction operation")
    table = backend.get_table(op["TableName"])
    if op_type == "Put":
        key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = op["Item"][table.range_key_attr]
    else:
        key = op["Key"]
    target = (str(op["TableName"]), str(dict(sorted(key.items()))))
    if target in targets:
        raise MultipleTransactionsException()
    targets.add(target)
    current = backend.get_item(op["TableName"], key)
    condition = op.get("ConditionExpression")
    if condition is not None and not get_filter_expression(
        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    ).expr(current):
        old = None
        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
            old = current.to_json()["Attributes"]
        raise ConditionalCheckFailed(item=old)
    return dict(key)


def _apply(backend: Any, prepared: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
    """2. make the writes, streaming them only once all are made; undo them (unstreamed) if one fails."""
    tables = {op["TableName"]: backend.get_table(op["TableName"]) for _, op, _ in prepared}
    held: list[tuple[Any, Any, Any]] = []
    shards = {name: table.stream_shard for name, table in tables.items() if table.stream_shard is not None}
    for shard in shards.values():
        shard.add = _holding(shard, held)
    undo: list[tuple[Any, Any, Any, Any]] = []
    try:
        for op_type, op, key in prepared:
            table = tables[op["TableName"]]
            hash_value, range_value = backend.get_keys_value(table, key)
            undo.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                backend.put_item(op["TableName"], op["Item"])
            elif op_type == "Delete":
                backend.delete_item(op["TableName"], key)
            elif op_type == "Update":
                backend.update_item(
                    op["TableName"],
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table, hash_value, range_value, previous in reversed(undo):
            _restore(table, hash_value, range_value, previous)
        held.clear()
        raise
    finally:
        for shard in shards.values():
            del shard.add  # the class's add again
    for shard, old, new in held:
        shard.add(old, new)


def _holding(shard: Any, held: list[tuple[Any, Any, Any]]) -> Callable[[Any, Any], None]:
    def hold(old: Any, new: Any) -> None:
        held.append((shard, old, new))

    return hold


def _restore(table: Any, hash_value: Any, range_value: Any, previous: Any) -> None:
    """Put an item back as it was, without a stream record (the change it undoes was never streamed)."""
    if range_value is not None:
        if previous is None:
            table.items[hash_value].pop(range_value, None)
        else:
            table.items[hash_value][range_value] = previous
    elif previous is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = previous
