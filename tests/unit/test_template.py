"""Checks on template.yaml itself: least privilege and the audit log's immutability."""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Any

import pytest

from audit_service.domain.models import PLAN_RETENTION_DAYS
from audit_service.domain.streams import ROLE_NAME_PREFIX
from localcloud.template import function_properties, load

TEMPLATE = load()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = [name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"]
MUTATING_LOG_ACTIONS = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:*",
}
# The one resource not of this stack, by design: an S3 log stream's role in the customer's account, which
# the API accepts only when so named (domain/streams.py); only the senders may assume it, nothing else.
CUSTOMER_STREAM_ROLE = {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::*:role/{ROLE_NAME_PREFIX}*"}
STREAM_SENDERS = {"DeliverLogStreamRecordsFunction", "SendLogStreamTestFunction"}


def _statements(function: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in function_properties(TEMPLATE, function).get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, (
            f"{function}: use explicit statements, not SAM policy templates (they grant more than a function uses)"
        )
        statements.extend(policy["Statement"])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _referenced(resource: Any) -> str | None:
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
        names = [m.split(".", 1)[0] for m in re.findall(r"\$\{([^}]+)\}", text) if not m.startswith("AWS::")]
        return names[0] if names else None
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    return None


@pytest.mark.parametrize("function", FUNCTIONS)
def test_roles_name_only_specific_actions_and_resources(function: str) -> None:
    for statement in _statements(function):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{function}: wildcard action {action}"
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", f"{function}: wildcard resource"
            if resource == CUSTOMER_STREAM_ROLE and function in STREAM_SENDERS:
                assert _as_list(statement["Action"]) == ["sts:AssumeRole"], f"{function}: {statement['Action']}"
                continue
            assert _referenced(resource) in RESOURCES, f"{function}: resource {resource} is not one of ours"


def test_no_role_can_modify_or_delete_audit_log_records() -> None:
    for function in FUNCTIONS:
        for statement in _statements(function):
            targets = {_referenced(r) for r in _as_list(statement["Resource"])}
            for table in {"AuditLogTable", "CheckpointsTable"} & targets:
                assert not MUTATING_LOG_ACTIONS & set(_as_list(statement["Action"])), (
                    f"{function} may change or delete items of {table}"
                )


def test_checkpoints_outlive_every_record_and_their_anchors_cannot_be_deleted() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["CheckpointRetentionDays"]["MinValue"] > parameters["PlatformRetentionDays"]["Default"]
    assert parameters["PlatformRetentionDays"]["MinValue"] > max(PLAN_RETENTION_DAYS.values())
    bucket = RESOURCES["AnchorBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    lock = bucket["Properties"]["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": {"Ref": "CheckpointRetentionDays"}}
    assert RESOURCES["CheckpointsTable"]["DeletionPolicy"] == "Retain"
    stream = function_properties(TEMPLATE, "SealAuditLogFunction")["Events"]["Stream"]["Properties"]
    assert stream["Stream"] == {"Fn::GetAtt": ["AuditLogTable", "StreamArn"]}
    assert "OnFailure" in stream["DestinationConfig"]


def test_every_table_is_encrypted_with_the_customer_managed_key() -> None:
    tables = [r for r in RESOURCES.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert tables
    for table in tables:
        sse = table["Properties"]["SSESpecification"]
        assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}}


def test_audit_log_table_expires_records_by_ttl() -> None:
    ttl = RESOURCES["AuditLogTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


def test_functions_run_python_3_13_on_arm64_with_the_shared_layer() -> None:
    for function in FUNCTIONS:
        props = function_properties(TEMPLATE, function)
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert {"Ref": "SharedLayer"} in props["Layers"]
    # The layer is built by its Makefile (arm64 wheels, compiled to bytecode): tests/packaging checks the result.
    assert RESOURCES["SharedLayer"]["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert RESOURCES["SharedLayer"]["Properties"]["CompatibleRuntimes"] == ["python3.13"]


def test_every_route_is_behind_the_api_key_authorizer() -> None:
    api = RESOURCES["Api"]["Properties"]["Auth"]
    assert api["DefaultAuthorizer"] == "ApiKeyAuthorizer"
    assert api["Authorizers"]["ApiKeyAuthorizer"]["FunctionPayloadType"] == "REQUEST"
    for function in FUNCTIONS:
        properties = function_properties(TEMPLATE, function)
        for event in properties.get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            if function == CONSOLE:  # the one exception: static files, no data, no AWS access at all
                assert event["Properties"]["Path"].startswith("/console")
                assert event["Properties"]["Method"] == "get"
                assert "Policies" not in RESOURCES[CONSOLE]["Properties"]
                continue
            assert "Auth" not in event["Properties"], f"{function} overrides the authorizer"


CONSOLE = "ServeConsoleFunction"


# ---------------------------------------------------------------- detection (issue #10, 8)
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
ALARMS = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def _emitted_metrics() -> set[str]:
    """Every metric name the code publishes (Powertools EMF, namespace AuditCompliance)."""
    names: set[str] = set()
    for path in [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/shared/audit_service/**/*.py")]:
        names |= set(re.findall(r'add_metric\(name="([A-Za-z]+)"', path.read_text()))
    return names


def _metric(alarm: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    if "Metrics" in alarm:
        (stat,) = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
        return stat["Namespace"], stat["MetricName"], stat.get("Dimensions", [])
    return alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", [])


def test_every_alarm_notifies_the_alarm_topic() -> None:
    assert ALARMS
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm.get("TreatMissingData") == "notBreaching", name  # no data is no problem, not an alarm
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "OperationsKey"}
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail" and subscription["Properties"]["Endpoint"] == {
        "Ref": "AlarmEmail"
    }


def test_each_alarm_watches_a_metric_that_exists() -> None:
    from audit_service.observability import NAMESPACE, SERVICE

    emitted = _emitted_metrics()
    for name, alarm in ALARMS.items():
        namespace, metric, dimensions = _metric(alarm)
        if namespace == NAMESPACE:
            assert metric in emitted, f"{name}: nothing publishes {metric}"
            assert dimensions == [{"Name": "service", "Value": SERVICE}], f"{name}: Powertools' dimension is service"
        elif namespace == "AWS/SQS":
            ((dimension,),) = [dimensions]
            queue = dimension["Value"]["Fn::GetAtt"]
            assert queue[1] == "QueueName" and RESOURCES[queue[0]]["Type"] == "AWS::SQS::Queue", name
        elif namespace == "AWS/ApiGateway":
            api_name = RESOURCES["Api"]["Properties"]["Name"]
            assert {"Name": "ApiName", "Value": api_name} in dimensions, f"{name}: not the API's name"
            assert {"Name": "Stage", "Value": {"Ref": "Stage"}} in dimensions, name
        elif namespace == "AWS/States":
            assert dimensions == [{"Name": "StateMachineArn", "Value": {"Ref": "EraseAccountStateMachine"}}], name
        else:
            raise AssertionError(f"{name}: unexpected namespace {namespace}")


def test_the_detections_the_issue_asks_for_all_exist() -> None:
    watched = {_metric(alarm)[1] for alarm in ALARMS.values()}
    assert {"RecordsChangedBehindService", "RecordsRejected", "AuthorizerFaults", "5XXError"} <= watched
    assert {"AuthenticationFailed", "PermissionDenied"} <= {
        _metric(a)[1] for a in ALARMS.values() if a.get("ComparisonOperator") == "GreaterThanUpperThreshold"
    }, "anomaly detection on failed logins and denials"
    dead_letter_queues = {
        r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    } | {  # stream consumers' on-failure destinations
        event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Serverless::Function"
        for event in r["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    }
    alarmed = {_metric(a)[2][0]["Value"]["Fn::GetAtt"][0] for a in ALARMS.values() if _metric(a)[0] == "AWS/SQS"}
    assert dead_letter_queues == alarmed, "every dead-letter queue has its alarm"
    for zero_tolerance in ("RecordsChangedBehindServiceAlarm", "RecordsRejectedAlarm"):
        assert ALARMS[zero_tolerance]["Threshold"] == 0 and ALARMS[zero_tolerance]["Period"] == 60


def test_background_functions_reserve_their_concurrency_and_queues_use_our_key() -> None:
    for function in FUNCTIONS:
        properties = function_properties(TEMPLATE, function)
        kinds = {event["Type"] for event in properties.get("Events", {}).values()}
        background = bool(kinds & {"SQS", "DynamoDB"}) or function.endswith("StepsFunction")
        if background:
            assert "ReservedConcurrentExecutions" in properties, f"{function}: a flood could starve it"
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::SQS::Queue":
            assert resource["Properties"].get("KmsMasterKeyId") == {"Ref": "OperationsKey"}, name


# ---------------------------------------------------------------- SnapStart: every caller invokes the live alias
ALIAS = "live"
# Properties of a function that are not part of a published version (Lambda keeps them on the function).
NOT_IN_A_VERSION = {"Events", "Policies", "ReservedConcurrentExecutions", "VersionDescription"}


def _function_references(node: Any, path: str = "") -> list[tuple[str, str, str]]:
    """(where, function, how) for every reference to a function of the template: how is "Alias" (``!Ref F.Alias``,
    ``${F.Alias}``), "Version", "Arn" (``!GetAtt F.Arn``, ``${F.Arn}``) or "Ref" (its name: ``!Ref F``, ``${F}``)."""
    found: list[tuple[str, str, str]] = []
    if isinstance(node, dict):
        if "Fn::GetAtt" in node and node["Fn::GetAtt"][0] in FUNCTIONS:
            found.append((path, node["Fn::GetAtt"][0], ".".join(node["Fn::GetAtt"][1:])))
        if "Ref" in node and str(node["Ref"]).split(".", 1)[0] in FUNCTIONS:
            name, _, how = str(node["Ref"]).partition(".")
            found.append((path, name, how or "Ref"))
        if "Fn::Sub" in node:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            for expression in re.findall(r"\$\{([^}!]+)\}", text):
                name, _, how = expression.partition(".")
                if name in FUNCTIONS:
                    found.append((path, name, how or "Ref"))
        for key, value in node.items():
            found.extend(_function_references(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_function_references(value, f"{path}/{index}"))
    return found


def unqualified_invokers(template: dict[str, Any]) -> list[str]:
    """Every place that names a function other than by its alias. Nothing in the template names a function but
    to invoke it (authorizers, state machine tasks and their lambda:InvokeFunction policies, permissions), and
    an invoke of the unqualified function runs $LATEST, where SnapStart never applies."""
    return [
        f"{where}: {function} by {how}, not !Ref {function}.Alias"
        for where, function, how in _function_references(template)
        if how != "Alias"
    ]


def test_every_function_publishes_the_live_alias_with_snapstart_from_the_parameter() -> None:
    parameter = TEMPLATE["Parameters"]["SnapStart"]
    assert parameter["AllowedValues"] == ["PublishedVersions", "None"]
    assert parameter["Default"] == "None", "SnapStart costs per version and can fail a rarely used route: opt in"
    assert "14 days" in parameter["Description"] and "SnapStartNotReadyException" in parameter["Description"]
    for function in FUNCTIONS:
        properties = function_properties(TEMPLATE, function)
        assert properties["AutoPublishAlias"] == ALIAS, function
        assert properties["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}, function
        # A change to any property publishes a version (else the alias keeps the old configuration) ...
        assert properties["AutoPublishAliasAllProperties"] is True, function
    # ... and so does a new layer: the alias would otherwise keep running the old audit_service.
    assert RESOURCES["SharedLayer"]["Properties"]["PublishLambdaVersion"] is True


def _parameters_in(node: Any) -> set[str]:
    parameters = TEMPLATE["Parameters"]
    if isinstance(node, dict):
        found = {str(node["Ref"])} & set(parameters) if "Ref" in node else set()
        if "Fn::Sub" in node:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            found |= set(re.findall(r"\$\{([^}!.]+)\}", text)) & set(parameters)
        return found.union(*(_parameters_in(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_parameters_in(value) for value in node))
    return set()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_new_parameter_value_publishes_a_new_version(function: str) -> None:
    """SAM hashes a function's properties with their parameters unresolved (aws/serverless-application-model
    #1640, #3820): a deploy that only changes SnapStart (or LogLevel...) would update $LATEST and leave the
    alias on the old version. A version's Description takes replacement, so a VersionDescription made of
    every parameter the function's configuration takes publishes a new version whenever one of them changes."""
    properties = function_properties(TEMPLATE, function)
    configured = _parameters_in({name: value for name, value in properties.items() if name not in NOT_IN_A_VERSION})
    assert "SnapStart" in configured
    missing = configured - _parameters_in(properties["VersionDescription"])
    assert not missing, f"{function}: VersionDescription lacks {sorted(missing)}"


def test_every_invoker_names_the_alias_never_the_unqualified_function() -> None:
    assert not unqualified_invokers(TEMPLATE)
    authorizer = RESOURCES["Api"]["Properties"]["Auth"]["Authorizers"]["ApiKeyAuthorizer"]
    assert authorizer["FunctionArn"] == {"Ref": "AuthorizerFunction.Alias"}
    for machine, steps in (
        ("ExportAccountStateMachine", "ExportAccountStepsFunction"),
        ("EraseAccountStateMachine", "EraseAccountStepsFunction"),
    ):
        properties = RESOURCES[machine]["Properties"]
        assert properties["DefinitionSubstitutions"]["StepsFunctionArn"] == {"Ref": f"{steps}.Alias"}
        (statement,) = [s for p in properties["Policies"] for s in p["Statement"]]
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Resource"] == {"Ref": f"{steps}.Alias"}
    assert not [name for name, r in RESOURCES.items() if r["Type"] == "AWS::Lambda::Permission"], (
        "SAM makes the permissions of the events it wires; one of our own must name the alias"
    )


def test_the_invoker_check_finds_an_unqualified_arn() -> None:
    changed = deepcopy(TEMPLATE)
    authorizer = changed["Resources"]["Api"]["Properties"]["Auth"]["Authorizers"]["ApiKeyAuthorizer"]
    authorizer["FunctionArn"] = {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    statement = changed["Resources"]["EraseAccountStateMachine"]["Properties"]["Policies"][0]["Statement"][0]
    statement["Resource"] = {"Fn::Sub": "${EraseAccountStepsFunction.Arn}"}
    assert unqualified_invokers(changed) == [
        "/Resources/EraseAccountStateMachine/Properties/Policies/0/Statement/0/Resource: "
        "EraseAccountStepsFunction by Arn, not !Ref EraseAccountStepsFunction.Alias",
        "/Resources/Api/Properties/Auth/Authorizers/ApiKeyAuthorizer/FunctionArn: "
        "AuthorizerFunction by Arn, not !Ref AuthorizerFunction.Alias",
    ]
