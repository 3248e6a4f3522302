"""Event-source mappings: poll SQS queues and DynamoDB streams, invoke handlers in-process.

Semantics follow Lambda's:
- SQS: batches of up to ``BatchSize``, gathered over several receives (ten
  at a time, as SQS allows); with ``MaximumBatchingWindowInSeconds`` a batch
  is invoked when it is full or when its first message has waited the window,
  as Lambda does; messages are deleted only when the invocation succeeds,
  except those named in ``batchItemFailures`` (with
  ``ReportBatchItemFailures``). A failed message becomes visible again after the
  queue's visibility timeout, and the queue's redrive policy moves it to the
  dead-letter queue after ``maxReceiveCount`` receives.
- DynamoDB streams: records in order per shard, read at most once per
  ``MaximumBatchingWindowInSeconds`` while polling in the background (so a
  busy table gives the function large batches, as on Lambda); a failed batch is retried from
  the first failed record (the whole batch without ``ReportBatchItemFailures``).
  With ``BisectBatchOnFunctionError`` a failing batch is halved until the
  failing record is alone; a batch of one that fails more than
  ``MaximumRetryAttempts`` times is sent to the ``OnFailure`` queue (its
  position, as Lambda sends it) and skipped, so one poisonous record cannot
  stop a shard.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from localcloud.provision import EventSourceMapping
from localcloud.runtime import FunctionError, Runtime

ClientFactory = Callable[[str], Any]


class SqsPoller:
    def __init__(self, mapping: EventSourceMapping, runtime: Runtime, clients: ClientFactory, region: str) -> None:
        self.mapping = mapping
        self._runtime = runtime
        self._sqs = clients("sqs")
        self._region = region
        self._held: list[dict[str, Any]] = []  # received, waiting for the batch to fill or the window to pass
        self._held_since = 0.0

    def poll_once(self, wait_seconds: int = 0, *, flush: bool = True) -> int:
        """Receive what is waiting and invoke the function with a batch; returns how many messages arrived.

        ``flush`` False (the background loop): a batch that is not full waits for its window.
        """
        received = 0
        while len(self._held) < self.mapping.batch_size:
            response = self._sqs.receive_message(
                QueueUrl=self.mapping.queue_url,
                MaxNumberOfMessages=min(10, self.mapping.batch_size - len(self._held)),
                WaitTimeSeconds=wait_seconds if not self._held else 0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = response.get("Messages", [])
            if not batch:
                break
            if not self._held:
                self._held_since = time.monotonic()
            self._held += batch
            received += len(batch)
        if not self._held:
            return 0
        full = len(self._held) >= self.mapping.batch_size
        if not flush and not full and time.monotonic() - self._held_since < self.mapping.batching_window:
            return received
        messages, self._held = self._held, []
        self._invoke(messages)
        return max(received, len(messages))

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._record(message) for message in messages]}
        try:
            result = self._runtime.invoke(self.mapping.function, event)
        except FunctionError:
            return  # nothing deleted: every message is retried
        failed: set[str] = set()
        if self.mapping.report_batch_item_failures and isinstance(result, dict):
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                ],
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.source_arn,
            "awsRegion": self._region,
        }


class StreamPoller:
    def __init__(self, mapping: EventSourceMapping, runtime: Runtime, clients: ClientFactory, region: str) -> None:
        self.mapping = mapping
        self._runtime = runtime
        self._streams = clients("dynamodbstreams")
        self._sqs = clients("sqs")
        self._region = region
        self._iterators: dict[str, str | None] = {}
        self._limits: dict[str, int] = {}  # a bisected shard's current batch size
        self._attempts: dict[str, int] = {}  # failed attempts of a shard's current batch
        self._last_read = 0.0

    def _shard_iterators(self) -> dict[str, str | None]:
        description = self._streams.describe_stream(StreamArn=self.mapping.source_arn)["StreamDescription"]
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self.mapping.source_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self.mapping.starting_position,
                )["ShardIterator"]
        return self._iterators

    def poll_once(self, wait_seconds: int = 0, *, flush: bool = True) -> int:
        """Read and deliver what the shards hold; ``flush`` False: not again before the batching window passed."""
        if not flush and time.monotonic() - self._last_read < self.mapping.batching_window:
            return 0
        self._last_read = time.monotonic()
        processed = 0
        for shard_id, iterator in list(self._shard_iterators().items()):
            if iterator is None:
                continue
            limit = self._limits.get(shard_id, self.mapping.batch_size)
            response = self._streams.get_records(ShardIterator=iterator, Limit=limit)
            records = response.get("Records", [])
            next_iterator = response.get("NextShardIterator")
            if records:
                retry_from = self._deliver(records)
                if retry_from is None:
                    self._limits.pop(shard_id, None)
                    self._attempts.pop(shard_id, None)
                elif not self._give_up(shard_id, records, retry_from):
                    next_iterator = self._streams.get_shard_iterator(
                        StreamArn=self.mapping.source_arn,
                        ShardId=shard_id,
                        ShardIteratorType="AT_SEQUENCE_NUMBER",
                        SequenceNumber=retry_from,
                    )["ShardIterator"]
                processed += len(records)
            self._iterators[shard_id] = next_iterator
        return processed

    def _give_up(self, shard_id: str, records: list[dict[str, Any]], retry_from: str) -> bool:
        """After a failure: bisect, or count the attempt; True when the failing batch is sent away and skipped."""
        failing = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(retry_from)]
        if self.mapping.bisect_on_error and len(failing) > 1:
            self._limits[shard_id] = max(1, len(failing) // 2)
            return False
        attempts = self._attempts.get(shard_id, 0) + 1
        self._attempts[shard_id] = attempts
        if self.mapping.max_retry_attempts < 0 or attempts <= self.mapping.max_retry_attempts:
            return False
        if len(failing) < len(records):
            return False  # the records before the failure succeeded: retry from it as a batch of its own
        if self.mapping.on_failure_queue_url:
            self._sqs.send_message(
                QueueUrl=self.mapping.on_failure_queue_url, MessageBody=self._batch_info(shard_id, failing)
            )
        self._limits.pop(shard_id, None)
        self._attempts.pop(shard_id, None)
        return True

    def _batch_info(self, shard_id: str, records: list[dict[str, Any]]) -> str:
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        return json.dumps(
            {
                "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.mapping.function},
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": first["SequenceNumber"],
                    "endSequenceNumber": last["SequenceNumber"],
                    "batchSize": len(records),
                    "streamArn": self.mapping.source_arn,
                },
            }
        )

    def _deliver(self, records: list[dict[str, Any]]) -> str | None:
        """Invoke the function; the sequence number to retry from, or None when all succeeded."""
        event = {
            "Records": [
                {**as_lambda_json(record), "eventSourceARN": self.mapping.source_arn, "awsRegion": self._region}
                for record in records
            ]
        }
        try:
            result = self._runtime.invoke(self.mapping.function, event)
        except FunctionError:
            return str(records[0]["dynamodb"]["SequenceNumber"])
        if self.mapping.report_batch_item_failures and isinstance(result, dict):
            failures = [item["itemIdentifier"] for item in result.get("batchItemFailures", [])]
            if failures:
                return str(min(failures, key=int))
        return None


def as_lambda_json(record: dict[str, Any]) -> Any:
    """A stream record as Lambda delivers it: JSON, times as epoch seconds, binary values as base64."""

    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(bytes(value)).decode()
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    return json.loads(json.dumps(record, default=encode))


class Pollers:
    """Runs each mapping of the stack on a background thread of its own until stopped (Lambda polls each
    event source independently: the sealer keeps up while ingest is busy)."""

    def __init__(
        self,
        mappings: list[EventSourceMapping],
        runtime: Runtime,
        clients: ClientFactory,
        region: str,
        *,
        interval: float = 0.2,
    ) -> None:
        self.pollers: list[SqsPoller | StreamPoller] = [
            (SqsPoller if mapping.kind == "sqs" else StreamPoller)(mapping, runtime, clients, region)
            for mapping in mappings
        ]
        self._interval = interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def drain(self) -> int:
        """Poll every mapping until all are empty (tests use this instead of sleeping)."""
        total = 0
        while True:
            received = sum(poller.poll_once() for poller in self.pollers)
            total += received
            if received == 0:
                return total

    def start(self) -> None:
        def loop(poller: SqsPoller | StreamPoller) -> None:
            while not self._stop.is_set():
                try:
                    if poller.poll_once(flush=False) == 0:
                        self._stop.wait(self._interval)
                except Exception as error:  # noqa: BLE001 - keep polling, as Lambda's pollers do
                    print(f"poller error: {type(error).__name__}: {error}", flush=True)
                    self._stop.wait(1.0)

        for poller in self.pollers:
            thread = threading.Thread(
                target=loop, args=(poller,), name=f"poller-{poller.mapping.function}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
