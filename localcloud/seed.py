"""Demo data, created through the operator's tool (``ld-audit-admin``)."""

from __future__ import annotations

from typing import Any

from audit_service.admin.cli import run

DEMO_USERS = (
    # name, email, role: one role with audit:read, and one without it
    ("Jane Smith", "jane.smith@example.com", "owner"),
    ("Ada Auditor", "ada.auditor@example.com", "auditor"),
    ("Max Member", "max.member@example.com", "member"),
)


def seed_demo() -> dict[str, Any]:
    tenant = run(["tenant", "create", "--name", "Acme Corp", "--plan", "pro"])["tenant"]
    tenant_id = str(tenant["id"])
    division = run(["resource", "add", "--tenant", tenant_id, "--kind", "division", "--name", "Platform Engineering"])[
        "division"
    ]
    environment = run(
        [
            "resource",
            "add",
            "--tenant",
            tenant_id,
            "--kind",
            "environment",
            "--name",
            "production",
            "--parent",
            str(division["id"]),
        ]
    )["environment"]
    deployment = run(
        [
            "resource",
            "add",
            "--tenant",
            tenant_id,
            "--kind",
            "deployment",
            "--name",
            "prod-cluster",
            "--parent",
            str(environment["id"]),
        ]
    )["deployment"]
    users = []
    for name, email, role in DEMO_USERS:
        user = run(["user", "create", "--name", name, "--email", email])["user"]
        run(["member", "add", "--tenant", tenant_id, "--user", str(user["id"]), "--role", role])
        key = run(["key", "create", "--user", str(user["id"]), "--name", "demo"])
        users.append(
            {
                "id": user["id"],
                "name": name,
                "email": email,
                "role": role,
                "tenant_id": tenant["id"],
                "api_key": key["secret"],
                "key_id": key["api_key"]["key_id"],
            }
        )
    return {
        "tenants": [
            {
                "id": tenant["id"],
                "name": tenant["name"],
                "plan": tenant["plan"],
                "divisions": [{"id": division["id"], "name": division["name"]}],
                "environments": [{"id": environment["id"], "name": environment["name"]}],
                "deployments": [{"id": deployment["id"], "name": deployment["name"]}],
            }
        ],
        "users": users,
    }
