"""AWS calls per request of the account routes, each in a warm container (moto in-process).

Targets (accounts issue): a read is one data query plus one access-log put plus
at most one KMS call; a mutation is one transaction plus at most one KMS call.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from moto import mock_aws

from bench.audit_paths import REGION, CallCounter, Row, _clients, _env, in_process_aws
from bench.events import api_event
from localcloud.provision import provision
from localcloud.runtime import Runtime


def _kind(calls: Counter[str]) -> tuple[int, int, int, str]:
    kms = sum(n for name, n in calls.items() if name.startswith("kms:"))
    transactions = calls["dynamodb:TransactWriteItems"]
    data = sum(n for name, n in calls.items() if name.startswith("dynamodb:"))
    detail = ", ".join(f"{name} x{n}" for name, n in sorted(calls.items()))
    return data, transactions, kms, detail


def measure(members: int = 50) -> list[Row]:
    in_process_aws()
    counter = CallCounter()
    rows: list[Row] = []
    with mock_aws():
        from audit_service import container
        from audit_service.domain.models import Plan
        from audit_service.domain.permissions import Role

        stack = provision(_clients, stack_name="bench", region=REGION)
        restore = _env(stack)
        container.reset()
        try:
            accounts = container.accounts()
            tenant = accounts.create_tenant("Bench", Plan.PRO)
            owner = accounts.create_user("Bench Owner", "owner@bench.example")
            accounts.add_member(tenant.id, owner.id, Role.OWNER)
            for n in range(members - 1):
                person = accounts.create_user(f"Member {n}", f"member{n}@bench.example")
                accounts.add_member(tenant.id, person.id, Role.MEMBER)
            runtime = Runtime(stack)
            roles = {str(tenant.id): "owner"}
            tid = str(tenant.id)
            in_tenant = {"tenant_id": tid}
            cases: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
                (
                    "read: profile",
                    "GetOwnProfileFunction",
                    lambda: api_event("GET", "/users/me", user_id=owner.id, roles=roles),
                ),
                (
                    f"read: member listing of {members}",
                    "ListTenantMembersFunction",
                    lambda: api_event(
                        "GET",
                        f"/tenants/{tid}/members",
                        user_id=owner.id,
                        roles=roles,
                        resource="/tenants/{tenant_id}/members",
                        path_parameters=in_tenant,
                    ),
                ),
                (
                    "mutation: invitation create",
                    "CreateInvitationFunction",
                    lambda: api_event(
                        "POST",
                        f"/tenants/{tid}/invitations",
                        user_id=owner.id,
                        roles=roles,
                        resource="/tenants/{tenant_id}/invitations",
                        path_parameters=in_tenant,
                        body={"email": f"{uuid.uuid4().hex[:8]}@bench.example", "role": "member"},
                    ),
                ),
            ]
            for figure, function, event in cases:
                runtime.invoke(function, event())  # warm: imports, clients, data keys, plan cache
                with counter.counting() as calls:
                    response = runtime.invoke(function, event())
                assert response["statusCode"] in (200, 201), response
                data, transactions, kms, detail = _kind(calls)
                if figure.startswith("read: member listing"):
                    # a page query, the exact total's count query, the access-log put
                    ok = calls["dynamodb:PutItem"] == 1 and calls["dynamodb:Query"] == 2 and data == 3 and kms <= 1
                    target = "1 page query + 1 count query + 1 access-log put, KMS <= 1"
                elif figure.startswith("read"):
                    ok = calls["dynamodb:PutItem"] == 1 and data == 2 and kms <= 1
                    target = "1 query + 1 access-log put, KMS <= 1"
                else:
                    # the actor's member item names the author; the invitation's message goes to the mailer
                    ok = transactions == 1 and data <= 2 and calls["events:PutEvents"] == 1 and kms <= 1
                    target = "1 transaction + the author's member read + 1 message for the mailer, KMS <= 1"
                rows.append(
                    Row(
                        f"{figure}: AWS calls (KMS)",
                        f"{sum(calls.values())} ({kms})",
                        f"target {target} [{detail}]",
                        ok,
                    )
                )
        finally:
            restore()
            container.reset()
    return rows
