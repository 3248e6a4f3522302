"""Least privilege, checked by use: every AWS call a function makes in the tests must be allowed by its role.

moto does not enforce IAM, so a missing permission would only show on AWS. Each
call made while a function's code runs (``localcloud.runtime.CURRENT_FUNCTION``)
is recorded at botocore and turned into the IAM actions and resource ARNs AWS
would check (one per item of a transaction, the key of an SSE-KMS queue as
well as the queue). After each test, every one must match a statement of that
function's policy in ``template.yaml``, resolved against the test's stack.

Calls made with other credentials than the function's own (an S3 stream's
writes, as the customer's role it assumed) are the customer's role policy's
business, not the template's: they are recorded but not checked here.

A state machine's Lambda tasks are checked the same way, against the state
machine's ``Policies``: moto's Step Functions invokes a task's function through
boto3 from its execution's thread, which ``CURRENT_STATE_MACHINE`` marks. A task
naming the ``live`` alias needs a policy naming the alias's ARN, as on AWS.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import botocore.client

from localcloud.provision import Stack
from localcloud.runtime import CURRENT_FUNCTION
from localcloud.template import function_properties, load

TEMPLATE = load()
# The state machine (its ARN) whose execution is running a task in this thread.
CURRENT_STATE_MACHINE: ContextVar[str | None] = ContextVar("CURRENT_STATE_MACHINE", default=None)


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    params: dict[str, Any]
    as_another_principal: bool = False


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    @contextmanager
    def recording(self) -> Iterator[Recorder]:
        original = botocore.client.BaseClient._make_api_call

        def recorded(client: Any, operation: str, params: Any) -> Any:
            function = CURRENT_FUNCTION.get()
            service = client.meta.service_model.service_name
            if function is not None:
                credentials = getattr(client._request_signer, "_credentials", None)
                other = getattr(credentials, "access_key", None) != os.environ.get("AWS_ACCESS_KEY_ID")
                with self._lock:
                    self.calls.append(Call(function, service, operation, dict(params), other))
            elif (machine := CURRENT_STATE_MACHINE.get()) is not None:  # a task, as the state machine's role
                with self._lock:
                    self.calls.append(Call(machine, service, operation, dict(params)))
            return original(client, operation, params)

        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        tasks = ("execute_lambda_function_integration", "exec_lambda_function")
        originals = {name: getattr(lambda_eval_utils, name) for name in tasks}
        botocore.client.BaseClient._make_api_call = recorded  # type: ignore[method-assign]
        for name, task in originals.items():
            setattr(lambda_eval_utils, name, _as_state_machine(task))
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
            for name, task in originals.items():
                setattr(lambda_eval_utils, name, task)


def _as_state_machine(task: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps moto's Lambda task: its calls are the running state machine's (its context object's ARN)."""

    @functools.wraps(task)
    def run(env: Any, *args: Any, **kwargs: Any) -> Any:
        token = CURRENT_STATE_MACHINE.set(env.states.context_object.context_object_data["StateMachine"]["Id"])
        try:
            return task(env, *args, **kwargs)
        finally:
            CURRENT_STATE_MACHINE.reset(token)

    return run


class Resources:
    """Physical names of the stack's resources -> their ARNs, as IAM sees them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        attributes = stack.resolver.attributes
        self.tables = {
            stack.ref(logical): arn
            for (logical, name), arn in attributes.items()
            if name == "Arn" and str(arn).startswith("arn:aws:dynamodb:")
        }
        self.queues = {
            attributes[(logical, "QueueUrl")]: (attributes[(logical, "Arn")], self._queue_key(logical))
            for (logical, name) in list(attributes)
            if name == "QueueUrl"
        }
        self.keys = {
            attributes[(logical, "KeyId")]: attributes[(logical, "Arn")]
            for (logical, name) in list(attributes)
            if name == "KeyId"
        }
        self.buses = {
            stack.ref(logical): attributes[(logical, "Arn")]
            for logical, resource in TEMPLATE["Resources"].items()
            if resource["Type"] == "AWS::Events::EventBus"
        }
        self.functions = {spec.name: spec.arn for spec in stack.functions.values()}

    def function_arn(self, params: dict[str, Any]) -> str:
        """The ARN IAM checks for a Lambda call: qualified (an alias or version) when the call names one."""
        name = str(params["FunctionName"])
        if not name.startswith("arn:"):
            base, _, qualifier = name.partition(":")
            name = self.functions[base] + (f":{qualifier}" if qualifier else "")
        return name + (f":{params['Qualifier']}" if params.get("Qualifier") else "")

    def _queue_key(self, logical: str) -> str | None:
        key = TEMPLATE["Resources"][logical].get("Properties", {}).get("KmsMasterKeyId")
        return str(self.stack.resolver.resolve(key)) if key else None

    def key_arn(self, key_id: str) -> str:
        if key_id.startswith("arn:"):
            return key_id
        if key_id.startswith("alias/"):
            alias = key_id
            for logical, resource in TEMPLATE["Resources"].items():
                if resource["Type"] == "AWS::KMS::Alias" and self.stack.ref(logical) == alias:
                    return self.keys[self.stack.resolver.resolve(resource["Properties"]["TargetKeyId"])]
        return self.keys.get(key_id, key_id)


def required(call: Call, resources: Resources) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs IAM checks for one call."""
    service, operation, params = call.service, call.operation, call.params
    if service == "dynamodb":
        return _dynamodb(operation, params, resources)
    if service == "kms":
        return [(f"kms:{operation}", resources.key_arn(str(params.get("KeyId", "*"))))]
    if service == "sqs":
        return _sqs(operation, params, resources)
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        if operation == "DeleteObjects":
            return [("s3:DeleteObject", f"{bucket}/{item['Key']}") for item in params["Delete"]["Objects"]]
        if operation in ("ListObjectsV2", "ListObjects"):
            return [("s3:ListBucket", bucket)]
        return [(f"s3:{operation}", f"{bucket}/{params['Key']}")]
    if service == "events":
        return [
            ("events:PutEvents", resources.buses.get(entry.get("EventBusName", "default"), "default"))
            for entry in params["Entries"]
        ]
    if service == "sts":
        if operation == "GetCallerIdentity":
            return []  # needs no permission
        return [(f"sts:{operation}", str(params["RoleArn"]))]
    if service == "lambda" and operation == "Invoke":
        return [("lambda:InvokeFunction", resources.function_arn(params))]
    if service == "stepfunctions":
        arn = params.get("stateMachineArn") or params.get("executionArn")
        return [(f"states:{operation}", str(arn))]
    return [(f"{service}:{operation}", "*")]


def _sqs(operation: str, params: dict[str, Any], resources: Resources) -> list[tuple[str, str]]:
    arn, key = resources.queues[params["QueueUrl"]]
    action = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage"}.get(operation, operation)
    needs = [(f"sqs:{action}", arn)]
    if key and action in ("SendMessage", "ReceiveMessage"):  # SSE-KMS: SQS uses the key as the caller
        key_arn = resources.key_arn(key)
        needs += (
            [("kms:GenerateDataKey", key_arn), ("kms:Decrypt", key_arn)]
            if action == "SendMessage"
            else [("kms:Decrypt", key_arn)]
        )
    return needs


def _dynamodb(operation: str, params: dict[str, Any], resources: Resources) -> list[tuple[str, str]]:
    if operation == "TransactWriteItems":
        actions = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return [
            (f"dynamodb:{actions[kind]}", resources.tables[body["TableName"]])
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", resources.tables[table]) for table in params["RequestItems"]]
    arn = resources.tables[params["TableName"]]
    if "IndexName" in params:
        arn = f"{arn}/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", arn)]


def statements(stack: Stack, caller: str) -> list[dict[str, Any]]:
    """The policy of a function (its logical id) or of a state machine (its ARN), resolved."""
    machines = {
        stack.ref(logical): resource
        for logical, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    }
    properties = machines[caller]["Properties"] if caller in machines else function_properties(TEMPLATE, caller)
    found: list[dict[str, Any]] = []
    for policy in properties.get("Policies", []):
        found.extend(stack.resolver.resolve(policy["Statement"]))
    return found


def allowed(policy: list[dict[str, Any]], action: str, resource: str) -> bool:
    for statement in policy:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(fnmatch.fnmatchcase(action, pattern) for pattern in actions) and any(
            fnmatch.fnmatchcase(resource, str(pattern)) for pattern in targets
        ):
            return True
    return False


def denied(calls: list[Call], stack: Stack) -> list[str]:
    """What AWS would refuse: one line per (function, action, resource) the function's role does not allow."""
    resources = Resources(stack)
    problems: set[str] = set()
    policies: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        if call.as_another_principal:
            continue
        if call.function not in policies:  # worked out once per function (setdefault's argument was every call's)
            policies[call.function] = statements(stack, call.function)
        policy = policies[call.function]
        for action, resource in required(call, resources):
            if not allowed(policy, action, resource):
                problems.add(f"{call.function}: {action} on {resource} ({call.service}.{call.operation})")
    return sorted(problems)
