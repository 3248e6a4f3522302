"""The API Gateway emulator's own rules (no AWS): routes and policy evaluation."""

from __future__ import annotations

from localcloud.gateway import Gateway, _compile

ARN = "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/audit/tenants/7"


def test_path_templates_match_like_api_gateway() -> None:
    assert _compile("/audit/tenants/{tenant_id}").match("/audit/tenants/7").groupdict() == {"tenant_id": "7"}
    assert _compile("/audit/tenants/{tenant_id}").match("/audit/tenants/7/access") is None
    assert _compile("/files/{proxy+}").match("/files/a/b").groupdict() == {"proxy": "a/b"}


def _policy(effect: str, resource: str) -> dict[str, object]:
    return {
        "principalId": "1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}],
        },
        "context": {"n": 1},
    }


def test_allow_policy_passes_context_as_strings() -> None:
    assert Gateway._evaluate(_policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:api/dev/*/*"), ARN) == {
        "principalId": "1",
        "n": "1",
    }


def test_deny_or_unmatched_policy_is_access_denied() -> None:
    assert Gateway._evaluate(_policy("Deny", "*"), ARN) == "ACCESS_DENIED"
    assert (
        Gateway._evaluate(_policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:api/dev/POST/*"), ARN)
        == "ACCESS_DENIED"
    )
