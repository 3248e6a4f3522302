"""Create every resource of ``template.yaml`` in an AWS endpoint (moto locally and in tests).

Only the resource types the template uses are supported, each by the same API
calls CloudFormation would make; an unsupported type is an error, never
silently skipped. Resources that only matter to AWS itself (IAM roles, Lambda
permissions) have nothing to emulate locally and are listed in ``NOT_EMULATED``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from localcloud.template import ROOT, Pending, Resolver, function_properties, load, parameter_defaults
from localcloud.waf import WebAcl

ACCOUNT_ID = "123456789012"
NOT_EMULATED = {
    "AWS::Lambda::Permission": "invocation permissions are not enforced in-process",
    "AWS::SQS::QueuePolicy": "moto does not enforce resource policies",
    "AWS::S3::BucketPolicy": "moto does not enforce resource policies",
    "AWS::IAM::Role": "moto does not enforce IAM; roles are checked by tests on the template",
    "AWS::ApiGateway::Account": "an account-wide setting of API Gateway, which the local gateway does not need",
    "AWS::CloudFormation::WaitConditionHandle": "only orders resources in a CloudFormation deployment",
}


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    # AutoPublishAlias: the alias every caller invokes and the version it points to (SAM's Version and Alias)
    alias_arn: str | None = None
    version: str = "$LATEST"

    @property
    def invoked_arn(self) -> str:
        """What callers name: the alias's ARN where the function publishes one, else the function's."""
        return self.alias_arn or self.arn


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function: str
    identity_headers: tuple[str, ...]
    ttl_seconds: int


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authorizer: str | None


@dataclass
class ApiSpec:
    logical_id: str
    stage: str
    default_authorizer: str | None = None
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    gateway_responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    web_acl: WebAcl | None = None  # the WAF web ACL associated with the stage


@dataclass(frozen=True)
class EventSourceMapping:
    kind: str  # "sqs" | "dynamodb"
    function: str
    source_arn: str
    batch_size: int
    report_batch_item_failures: bool
    starting_position: str = "LATEST"
    queue_url: str | None = None
    # streams: Lambda's MaximumRetryAttempts (-1: until the records expire), BisectBatchOnFunctionError,
    # and the OnFailure destination (an SQS queue) that gets the batch's position once retries run out
    max_retry_attempts: int = -1
    bisect_on_error: bool = False
    on_failure_queue_url: str | None = None
    # MaximumBatchingWindowInSeconds: how long Lambda gathers a batch before invoking
    batching_window: float = 0.0


@dataclass
class Stack:
    name: str
    region: str
    resolver: Resolver
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    apis: dict[str, ApiSpec] = field(default_factory=dict)
    mappings: list[EventSourceMapping] = field(default_factory=list)
    physical: dict[str, str] = field(default_factory=dict)
    web_acls: dict[str, WebAcl] = field(default_factory=dict)

    def ref(self, logical_id: str) -> Any:
        return self.resolver.refs[logical_id]

    def attribute(self, logical_id: str, name: str) -> Any:
        return self.resolver.attributes[(logical_id, name)]

    def environment(self) -> dict[str, str]:
        """The union of every function's environment; the same name must mean the same value."""
        merged: dict[str, str] = {}
        for spec in self.functions.values():
            for name, value in spec.environment.items():
                if merged.setdefault(name, value) != value:
                    raise ValueError(f"functions disagree on {name}; the in-process runtime shares one environment")
        return merged


ClientFactory = Callable[[str], Any]


class Provisioner:
    def __init__(
        self,
        clients: ClientFactory,
        *,
        stack_name: str,
        region: str,
        template: dict[str, Any] | None = None,
        root: Path = ROOT,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self._factory = clients
        self._made: dict[str, Any] = {}  # one client per service for the whole provisioning
        self._role_arn: str | None = None
        self._function_properties: dict[str, dict[str, Any]] = {}
        self._template = template if template is not None else load()
        self._root = root
        resolver = Resolver(
            parameters=parameter_defaults(self._template, parameters),
            pseudo={
                "AWS::Region": region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::StackName": stack_name,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            },
            conditions=dict(self._template.get("Conditions", {})),
        )
        self.stack = Stack(name=stack_name, region=region, resolver=resolver)

    # ------------------------------------------------------------------ driver
    def provision(self) -> Stack:
        pending = dict(self._template["Resources"])
        while pending:
            progressed = False
            for logical_id, resource in list(pending.items()):
                try:
                    self._create(logical_id, resource)
                except Pending:
                    continue
                del pending[logical_id]
                progressed = True
            if not progressed:
                raise RuntimeError(f"cannot resolve references among: {', '.join(sorted(pending))}")
        # Function events refer to other resources; wire them once all exist.
        for logical_id, resource in self._template["Resources"].items():
            if resource["Type"] == "AWS::Serverless::Function":
                self._wire_events(logical_id)
        self._resolve_authorizers()
        return self.stack

    def _resolve_authorizers(self) -> None:
        """Authorizer FunctionArn values resolve to ARNs (the alias's, or the function's); map them back to
        the functions' logical ids."""
        by_arn = {
            arn: spec.logical_id for spec in self.stack.functions.values() for arn in {spec.arn, spec.invoked_arn}
        }
        for api in self.stack.apis.values():
            for name, authorizer in list(api.authorizers.items()):
                if authorizer.function in by_arn:
                    api.authorizers[name] = AuthorizerSpec(
                        name, by_arn[authorizer.function], authorizer.identity_headers, authorizer.ttl_seconds
                    )

    def _create(self, logical_id: str, resource: dict[str, Any]) -> None:
        kind = resource["Type"]
        if kind in NOT_EMULATED:
            return
        if "Condition" in resource and not self.stack.resolver.condition(resource["Condition"]):
            return  # left out, as CloudFormation leaves it out
        creator = {
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._event_rule,
            "AWS::S3::Bucket": self._bucket,
            "AWS::Serverless::LayerVersion": self._layer,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::Api": self._api,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::WAFv2::WebACL": self._web_acl,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::WAFv2::WebACLAssociation": self._web_acl_association,
        }.get(kind)
        if creator is None:
            raise NotImplementedError(f"{logical_id}: the local cloud cannot create {kind} yet")
        properties = resource.get("Properties", {})
        # Resolve everything up front so a missing dependency defers the whole resource.
        resolved = self.stack.resolver.resolve(properties) if kind != "AWS::Serverless::Function" else properties
        creator(logical_id, resolved)

    def _clients(self, service: str) -> Any:
        """The factory's client for ``service``, made once: creating a boto3 client costs more than most calls."""
        if service not in self._made:
            self._made[service] = self._factory(service)
        return self._made[service]

    def _properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with Globals applied, worked out once (a function waiting on another
        resource is tried again on every pass)."""
        if logical_id not in self._function_properties:
            self._function_properties[logical_id] = function_properties(self._template, logical_id)
        return self._function_properties[logical_id]

    def _name(self, logical_id: str) -> str:
        return f"{self.stack.name}-{logical_id}"

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.stack.region}:{ACCOUNT_ID}:{resource}"

    def _set(self, logical_id: str, ref: Any, **attributes: Any) -> None:
        self.stack.resolver.refs[logical_id] = ref
        self.stack.physical[logical_id] = str(ref)
        for name, value in attributes.items():
            self.stack.resolver.attributes[(logical_id, name)] = value

    # ------------------------------------------------------------------ resources
    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> None:
        kms = self._clients("kms")
        args: dict[str, Any] = {"Description": props.get("Description", logical_id)}
        for name in ("KeySpec", "KeyUsage"):
            if name in props:
                args[name] = props[name]
        if "KeyPolicy" in props:
            args["Policy"] = json.dumps(props["KeyPolicy"])
        metadata = kms.create_key(**args)["KeyMetadata"]
        if props.get("EnableKeyRotation") and props.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT":
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        self._set(logical_id, metadata["KeyId"], Arn=metadata["Arn"], KeyId=metadata["KeyId"])

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> None:
        self._clients("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        self._set(logical_id, props["AliasName"])

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        dynamodb = self._clients("dynamodb")
        name = props.get("TableName", self._name(logical_id))
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for optional in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if optional in props:
                args[optional] = props[optional]
        if "StreamSpecification" in props:
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        if "SSESpecification" in props:
            sse = props["SSESpecification"]
            args["SSESpecification"] = {"Enabled": sse.get("SSEEnabled", False)}
            if "SSEType" in sse:
                args["SSESpecification"]["SSEType"] = sse["SSEType"]
            if "KMSMasterKeyId" in sse:
                args["SSESpecification"]["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
        description = dynamodb.create_table(**args)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        pitr = props.get("PointInTimeRecoverySpecification", {})
        if pitr.get("PointInTimeRecoveryEnabled"):
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        self._set(logical_id, name, Arn=description["TableArn"], StreamArn=description.get("LatestStreamArn"))

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("QueueName", self._name(logical_id) + (".fifo" if props.get("FifoQueue") else ""))
        attributes: dict[str, str] = {}
        for prop in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "MaximumMessageSize",
            "FifoQueue",
            "ContentBasedDeduplication",
            "KmsMasterKeyId",
            "SqsManagedSseEnabled",
        ):
            if prop in props:
                value = props[prop]
                attributes[prop] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = self._clients("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self._set(logical_id, url, Arn=self._arn("sqs", name), QueueName=name, QueueUrl=url)

    def _event_bus(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name", self._name(logical_id))
        arn = self._clients("events").create_event_bus(Name=name)["EventBusArn"]
        self._set(logical_id, name, Arn=arn, Name=name)

    def _event_rule(self, logical_id: str, props: dict[str, Any]) -> None:
        events = self._clients("events")
        name = props.get("Name", self._name(logical_id))
        args: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if "EventBusName" in props:
            args["EventBusName"] = props["EventBusName"]
        if "EventPattern" in props:
            args["EventPattern"] = json.dumps(props["EventPattern"])
        arn = events.put_rule(**args)["RuleArn"]
        targets = [{key: value for key, value in target.items()} for target in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, EventBusName=props.get("EventBusName", "default"), Targets=targets)
        self._set(logical_id, name, Arn=arn)

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        s3 = self._clients("s3")
        name = props.get("BucketName", self._name(logical_id).lower())
        args: dict[str, Any] = {"Bucket": name}
        if self.stack.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.stack.region}
        if props.get("ObjectLockEnabled"):
            args["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**args)
        if "ObjectLockConfiguration" in props:
            s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=props["ObjectLockConfiguration"])
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        if "BucketEncryption" in props:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                        **(
                            {"KMSMasterKeyID": rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]}
                            if "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"]
                            else {}
                        ),
                    },
                    "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "LifecycleConfiguration" in props:
            rules = [
                {
                    "ID": rule["Id"],
                    "Status": rule["Status"],
                    "Filter": {"Prefix": rule.get("Prefix", "")},
                    "Expiration": {"Days": int(rule["ExpirationInDays"])},
                }
                for rule in props["LifecycleConfiguration"]["Rules"]
            ]
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        self._set(logical_id, name, Arn=f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com")

    def _layer(self, logical_id: str, props: dict[str, Any]) -> None:
        # The layer's package is importable from the project's virtualenv; only its ARN is referenced.
        self._set(logical_id, self._arn("lambda", f"layer:{self._name(logical_id)}:1"))

    def _execution_role(self) -> str:
        if self._role_arn is None:
            self._role_arn = self._find_or_create_execution_role()
        return self._role_arn

    def _find_or_create_execution_role(self) -> str:
        iam = self._clients("iam")
        name = f"{self.stack.name}-local-execution"
        try:
            return str(iam.get_role(RoleName=name)["Role"]["Arn"])
        except iam.exceptions.NoSuchEntityException:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    }
                ],
            }
            return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])

    def _function(self, logical_id: str, _raw: dict[str, Any]) -> None:
        props = self._properties(logical_id)
        environment = props.get("Environment", {}).get("Variables", {})
        resolved_env = {name: str(value) for name, value in self.stack.resolver.resolve(environment).items()}
        name = props.get("FunctionName", self._name(logical_id))
        alias_name = (
            str(self.stack.resolver.resolve(props["AutoPublishAlias"])) if "AutoPublishAlias" in props else None
        )
        version_description = str(self.stack.resolver.resolve(props.get("VersionDescription", "")))
        code_dir = (self._root / props["CodeUri"]).resolve()
        spec = FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=self._arn("lambda", f"function:{name}"),
            code_dir=code_dir,
            handler=props["Handler"],
            environment=resolved_env,
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
        )
        # Registered in the Lambda API too (with the real code zipped), so that
        # Step Functions tasks and `aws lambda invoke` find it; the local
        # runtime then runs it in-process.
        self._clients("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.13"),
            Role=self._execution_role(),
            Handler=spec.handler,
            Code={"ZipFile": _zip_directory(code_dir)},
            Timeout=spec.timeout,
            MemorySize=spec.memory,
            Environment={"Variables": resolved_env},
            Architectures=props.get("Architectures", ["x86_64"]),
        )
        if alias_name is not None:
            spec = self._publish_alias(logical_id, spec, alias_name, version_description)
        self.stack.functions[logical_id] = spec
        self._set(logical_id, name, Arn=spec.arn)

    def _publish_alias(self, logical_id: str, spec: FunctionSpec, alias_name: str, description: str) -> FunctionSpec:
        """SAM's AutoPublishAlias: a published version and an alias on it. ``!Ref <Function>.Alias`` is the
        alias's ARN and ``!Ref <Function>.Version`` the version's, as SAM resolves them. SnapStart (a property
        of the version on AWS) has nothing to emulate: functions here run in-process."""
        lambda_ = self._clients("lambda")
        version = lambda_.publish_version(FunctionName=spec.name, Description=description)
        alias = lambda_.create_alias(FunctionName=spec.name, Name=alias_name, FunctionVersion=version["Version"])
        self.stack.resolver.refs[f"{logical_id}.Version"] = version["FunctionArn"]
        self.stack.resolver.refs[f"{logical_id}.Alias"] = alias["AliasArn"]
        return replace(spec, alias_arn=alias["AliasArn"], version=version["Version"])

    def _api(self, logical_id: str, props: dict[str, Any]) -> None:
        auth = props.get("Auth", {})
        api = ApiSpec(
            logical_id=logical_id,
            stage=str(props.get("StageName", "Prod")),
            default_authorizer=auth.get("DefaultAuthorizer"),
            gateway_responses=props.get("GatewayResponses", {}),
        )
        for name, config in auth.get("Authorizers", {}).items():
            identity = config.get("Identity", {})
            function_arn = config["FunctionArn"]
            api.authorizers[name] = AuthorizerSpec(
                name=name,
                function=function_arn,
                identity_headers=tuple(h.lower() for h in identity.get("Headers", [])),
                ttl_seconds=int(identity.get("ReauthorizeEvery", 300)),
            )
        self.stack.apis[logical_id] = api
        self._set(logical_id, f"local{logical_id.lower()}", Stage=api.stage)

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName", f"/{self.stack.name}/{logical_id}")
        logs = self._clients("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        self._set(logical_id, name, Arn=self._arn("logs", f"log-group:{name}:*"))

    def _topic(self, logical_id: str, props: dict[str, Any]) -> None:
        attributes = {name: str(props[name]) for name in ("DisplayName", "KmsMasterKeyId") if name in props}
        arn = self._clients("sns").create_topic(
            Name=props.get("TopicName", self._name(logical_id)), Attributes=attributes
        )["TopicArn"]
        self._set(logical_id, arn, TopicArn=arn, TopicName=arn.rsplit(":", 1)[1])

    def _subscription(self, logical_id: str, props: dict[str, Any]) -> None:
        arn = self._clients("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )["SubscriptionArn"]
        self._set(logical_id, arn)

    def _alarm(self, logical_id: str, props: dict[str, Any]) -> None:
        """Created so that describe-alarms shows them; the embedded AWS does not evaluate them."""
        name = props.get("AlarmName", self._name(logical_id))
        args = {key: value for key, value in props.items() if key != "AlarmName"}
        self._clients("cloudwatch").put_metric_alarm(AlarmName=name, **args)
        self._set(logical_id, name, Arn=self._arn("cloudwatch", f"alarm:{name}"))

    def _web_acl(self, logical_id: str, props: dict[str, Any]) -> None:
        """Emulated by the local gateway (localcloud/waf.py), as API Gateway is."""
        name = props.get("Name", self._name(logical_id))
        arn = self._arn("wafv2", f"regional/webacl/{name}/{logical_id.lower()}")
        self.stack.web_acls[arn] = WebAcl.from_template(props)
        self._set(logical_id, name, Arn=arn, Id=logical_id.lower())

    def _web_acl_association(self, logical_id: str, props: dict[str, Any]) -> None:
        stage_arn = str(props["ResourceArn"])
        for api_id, api in self.stack.apis.items():
            if f"/restapis/{self.stack.ref(api_id)}/stages/{api.stage}" in stage_arn:
                api.web_acl = self.stack.web_acls[props["WebACLArn"]]
                return
        raise ValueError(f"{logical_id}: {stage_arn} is not a stage of this template's APIs")

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        definition_text = (self._root / props["DefinitionUri"]).read_text()
        for name, value in props.get("DefinitionSubstitutions", {}).items():
            definition_text = definition_text.replace("${" + name + "}", str(value))
        name = props.get("Name", self._name(logical_id))
        arn = self._clients("stepfunctions").create_state_machine(
            name=name,
            definition=definition_text,
            roleArn=self._execution_role(),
            type=props.get("Type", "STANDARD"),
        )["stateMachineArn"]
        self._set(logical_id, arn, Arn=arn, Name=name)

    # ------------------------------------------------------------------ events
    def _wire_events(self, logical_id: str) -> None:
        props = self._properties(logical_id)
        for event_name, event in props.get("Events", {}).items():
            kind, config = event["Type"], self.stack.resolver.resolve(event.get("Properties", {}))
            failures = "ReportBatchItemFailures" in config.get("FunctionResponseTypes", [])
            if kind == "Api":
                api_id = (
                    next(iter(self.stack.apis))
                    if "RestApiId" not in event["Properties"]
                    else event["Properties"]["RestApiId"]["Ref"]
                )
                default = self.stack.apis[api_id].default_authorizer
                authorizer = config.get("Auth", {}).get("Authorizer", default)
                self.stack.apis[api_id].routes.append(
                    Route(
                        config["Method"].upper(),
                        config["Path"],
                        logical_id,
                        None if authorizer in (None, "NONE") else authorizer,
                    )
                )
            elif kind == "SQS":
                arn = config["Queue"]
                queue_name = arn.rsplit(":", 1)[1]
                url = self._clients("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
                self.stack.mappings.append(
                    EventSourceMapping(
                        "sqs",
                        logical_id,
                        arn,
                        int(config.get("BatchSize", 10)),
                        failures,
                        queue_url=url,
                        batching_window=float(config.get("MaximumBatchingWindowInSeconds", 0)),
                    )
                )
            elif kind == "DynamoDB":
                destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                self.stack.mappings.append(
                    EventSourceMapping(
                        "dynamodb",
                        logical_id,
                        config["Stream"],
                        int(config.get("BatchSize", 100)),
                        failures,
                        starting_position=config.get("StartingPosition", "LATEST"),
                        max_retry_attempts=int(config.get("MaximumRetryAttempts", -1)),
                        bisect_on_error=bool(config.get("BisectBatchOnFunctionError", False)),
                        batching_window=float(config.get("MaximumBatchingWindowInSeconds", 0)),
                        on_failure_queue_url=(
                            self._clients("sqs").get_queue_url(QueueName=destination.rsplit(":", 1)[1])["QueueUrl"]
                            if destination
                            else None
                        ),
                    )
                )
            else:
                raise NotImplementedError(f"{logical_id}.{event_name}: event type {kind} is not emulated locally")


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def provision(
    clients: ClientFactory,
    *,
    stack_name: str = "audit-local",
    region: str = "us-east-1",
    template: dict[str, Any] | None = None,
    root: Path = ROOT,
    parameters: dict[str, Any] | None = None,
) -> Stack:
    return Provisioner(
        clients, stack_name=stack_name, region=region, template=template, root=root, parameters=parameters
    ).provision()
