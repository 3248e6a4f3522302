"""Wall time and AWS calls of a GDPR export and an erasure, through their routes and state machines.

The user has 20 memberships, 5 identities, 10 sessions and 5 pending
invitations. Everything runs locally: moto in-process, the real ASL on moto's
Step Functions engine, the task Lambdas in-process. Calls are counted at
botocore for every thread (the state machine's own Lambda invocations are
listed apart from the service's calls).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from moto import mock_aws

from bench.audit_paths import REGION, CallCounter, Row, _clients, _env, in_process_aws
from bench.events import api_event
from localcloud.mailer import LocalMailer
from localcloud.provision import provision
from localcloud.runtime import Runtime, install_lambda_invoker


def measure() -> list[Row]:
    in_process_aws()
    counter = CallCounter()
    rows: list[Row] = []
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        from audit_service import container
        from audit_service.domain.models import Plan, RequestMetadata
        from audit_service.domain.permissions import Role
        from audit_service.domain.sessions import SessionStarted
        from audit_service.services.notifications import NotificationType

        stack = provision(_clients, stack_name="bench", region=REGION)
        restore = _env(stack)
        container.reset()
        try:
            accounts = container.accounts()
            owner = accounts.create_user("Tenant Owner", "owner@bench.example")
            person = accounts.create_user("Data Subject", "subject@bench.example")
            request = RequestMetadata(request_id="bench")
            for n in range(20):
                tenant = accounts.create_tenant(f"Tenant {n}", Plan.PRO)
                accounts.add_member(tenant.id, owner.id, Role.OWNER)
                accounts.add_member(tenant.id, person.id, Role.MEMBER)
                if n < 5:
                    container.invitations().create(
                        tenant.id,
                        email="subject@bench.example",
                        role=Role.ADMIN,
                        days=7,
                        actor_id=owner.id,
                        request=request,
                    )
            account = container.my_account()
            mailbox = LocalMailer(
                _clients, bus_name=stack.ref("AuditEventBus"), mailer_key_arn=stack.attribute("MailerKey", "Arn")
            ).install()
            for n in range(5):
                pending = account.request_identity_link(
                    person.id, provider="github", external_id=f"gh-{n}", request=request
                )
                secret = mailbox.last(NotificationType.IDENTITY_LINK_REQUESTED, link_id=pending["id"]).content["secret"]
                account.confirm_identity_link(person.id, pending["id"], str(secret), request)
            now = datetime.now(UTC)
            for n in range(10):
                account.session_started(
                    SessionStarted(
                        session_id=f"s-{n}",
                        user_id=person.id,
                        provider="github",
                        source_ip="192.0.2.9",
                        user_agent="bench",
                        started_at=now,
                        expires_at=now + timedelta(hours=8),
                    )
                )
            runtime = Runtime(stack)
            install_lambda_invoker(runtime)

            for figure, function, event in (
                ("export", "ExportAccountFunction", api_event("GET", "/account/export", user_id=person.id)),
                (
                    "erasure",
                    "EraseAccountFunction",
                    api_event("POST", "/account/erasure", user_id=person.id, body={"confirm": "erase my account"}),
                ),
            ):
                with counter.counting() as calls:
                    began = time.perf_counter()
                    response = runtime.invoke(function, event)
                    elapsed = time.perf_counter() - began
                body = json.loads(response["body"])
                assert response["statusCode"] == 200, body
                engine = {k: v for k, v in calls.items() if k.startswith(("lambda:", "stepfunctions:"))}
                service = {k: v for k, v in calls.items() if k not in engine}
                detail = ", ".join(f"{k} x{v}" for k, v in sorted(service.items()))
                rows.append(
                    Row(
                        f"{figure}: wall time (20 memberships, 5 identities, 10 sessions, 5 invitations)",
                        f"{elapsed:.2f} s",
                        "no target",
                        True,
                    )
                )
                rows.append(Row(f"{figure}: AWS calls by the service", str(sum(service.values())), detail, True))
                rows.append(
                    Row(
                        f"{figure}: Step Functions and Lambda calls",
                        str(sum(engine.values())),
                        ", ".join(f"{k} x{v}" for k, v in sorted(engine.items())),
                        True,
                    )
                )
        finally:
            restore()
            container.reset()
    return rows
