"""An HTTP server that behaves like the template's API Gateway REST API.

Per request: match a route from the functions' ``Api`` events, run the
REQUEST authorizer (identity sources, result cache, policy evaluation), build
the Lambda proxy event with the authorizer's context, call the function
in-process and return its response. Errors the gateway itself produces use the
template's ``GatewayResponses``, as API Gateway would.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from localcloud.provision import ACCOUNT_ID, ApiSpec, Route
from localcloud.runtime import FunctionError, Runtime

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

_DEFAULT_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "REQUEST_TOO_LARGE": 413,
    "AUTHORIZER_FAILURE": 500,
    "INTEGRATION_FAILURE": 502,
}
_DEFAULT_MESSAGE = {
    "UNAUTHORIZED": "Unauthorized",
    "ACCESS_DENIED": "User is not authorized to access this resource",
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "REQUEST_TOO_LARGE": "Request Too Long",
    "AUTHORIZER_FAILURE": "Internal server error",
    "INTEGRATION_FAILURE": "Internal server error",
}


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class GatewayResult:
    status: int
    headers: dict[str, str]
    body: bytes


def _compile(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


class Gateway:
    def __init__(self, api: ApiSpec, runtime: Runtime, *, region: str) -> None:
        self.api = api
        self.runtime = runtime
        self.region = region
        self._routes = [_CompiledRoute(route, _compile(route.path)) for route in api.routes]
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    # ---------------------------------------------------------------- entry
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str) -> GatewayResult:
        request_id = str(uuid.uuid4())
        split = urlsplit(raw_path)
        path = unquote(split.path) or "/"
        if self.api.web_acl is not None:  # WAF sees a request before API Gateway does
            blocked = self.api.web_acl.check(source_ip, headers)
            if blocked is not None:
                return GatewayResult(blocked.status, {"Content-Type": blocked.content_type}, blocked.body.encode())
        if len(body) > MAX_BODY_BYTES:
            return self._gateway_response("REQUEST_TOO_LARGE", request_id)
        matched = self._match(method, path)
        if matched is None:
            return self._gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id)
        route, path_parameters = matched
        event = self._proxy_event(
            method=method,
            path=path,
            query=split.query,
            headers=headers,
            body=body,
            source_ip=source_ip,
            route=route,
            path_parameters=path_parameters,
            request_id=request_id,
        )
        if route.authorizer is not None:
            outcome = self._authorize(route, event)
            if isinstance(outcome, str):
                return self._gateway_response(outcome, request_id)
            event["requestContext"]["authorizer"] = outcome
        try:
            response = self.runtime.invoke(route.function, event)
        except FunctionError:
            return self._gateway_response("INTEGRATION_FAILURE", request_id)
        return self._proxy_result(response, request_id)

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for compiled in self._routes:
            found = compiled.pattern.match(path)
            if found and compiled.route.method in (method, "ANY"):
                return compiled.route, found.groupdict()
        return None

    # ---------------------------------------------------------------- events
    def _proxy_event(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
        route: Route,
        path_parameters: dict[str, str],
        request_id: str,
    ) -> dict[str, Any]:
        pairs = parse_qsl(query, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for name, value in pairs:
            multi_query.setdefault(name, []).append(value)
        text_body: str | None
        encoded = False
        try:
            text_body = body.decode("utf-8") if body else None
        except UnicodeDecodeError:
            text_body, encoded = base64.b64encode(body).decode(), True
        now = time.time()
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers),
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.api.stage}{path}",
                "stage": self.api.stage,
                "requestId": request_id,
                "extendedRequestId": request_id,
                "accountId": ACCOUNT_ID,
                "apiId": self._api_id(),
                "protocol": "HTTP/1.1",
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "domainName": headers.get("Host", "localhost"),
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": next((v for k, v in headers.items() if k.lower() == "user-agent"), None),
                },
            },
            "body": text_body,
            "isBase64Encoded": encoded,
        }

    def _api_id(self) -> str:
        return str(self.runtime.stack.ref(self.api.logical_id))

    def _method_arn(self, event: dict[str, Any]) -> str:
        return (
            f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{self._api_id()}/{self.api.stage}/"
            f"{event['httpMethod']}{event['path']}"
        )

    # ---------------------------------------------------------------- authorizer
    def _authorize(self, route: Route, event: dict[str, Any]) -> dict[str, Any] | str:
        """The authorizer context for the proxy event, or the gateway response type to answer with."""
        assert route.authorizer is not None
        spec = self.api.authorizers[route.authorizer]
        lowered = {name.lower(): value for name, value in event["headers"].items()}
        identity = tuple(lowered.get(header, "") for header in spec.identity_headers)
        if any(value == "" for value in identity):
            return "UNAUTHORIZED"  # API Gateway rejects a missing identity source without invoking
        method_arn = self._method_arn(event)
        cache_key = (spec.name, identity)
        if spec.ttl_seconds > 0 and spec.identity_headers:
            with self._cache_lock:
                cached = self._cache.get(cache_key)
            if cached and cached[0] > time.monotonic():
                return self._evaluate(cached[1], method_arn)
        authorizer_event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{
                name: event[name]
                for name in (
                    "resource",
                    "path",
                    "httpMethod",
                    "headers",
                    "multiValueHeaders",
                    "queryStringParameters",
                    "multiValueQueryStringParameters",
                    "pathParameters",
                    "stageVariables",
                    "requestContext",
                )
            },
        }
        try:
            policy = self.runtime.invoke(spec.function, authorizer_event)
        except FunctionError as failure:
            return "UNAUTHORIZED" if str(failure) == "Unauthorized" else "AUTHORIZER_FAILURE"
        if spec.ttl_seconds > 0 and spec.identity_headers:
            with self._cache_lock:
                self._cache[cache_key] = (time.monotonic() + spec.ttl_seconds, policy)
        return self._evaluate(policy, method_arn)

    @staticmethod
    def _evaluate(policy: dict[str, Any], method_arn: str) -> dict[str, Any] | str:
        allowed = False
        for statement in policy.get("policyDocument", {}).get("Statement", []):
            resources = statement.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else resources
            if not any(fnmatch.fnmatchcase(method_arn, pattern) for pattern in resources):
                continue
            if statement.get("Effect") == "Deny":
                return "ACCESS_DENIED"
            allowed = allowed or statement.get("Effect") == "Allow"
        if not allowed:
            return "ACCESS_DENIED"
        context = {
            name: str(value) if not isinstance(value, str) else value
            for name, value in (policy.get("context") or {}).items()
        }
        return {"principalId": policy.get("principalId"), **context}

    # ---------------------------------------------------------------- responses
    def _proxy_result(self, response: Any, request_id: str) -> GatewayResult:
        if not isinstance(response, dict) or "statusCode" not in response:
            return self._gateway_response("INTEGRATION_FAILURE", request_id)
        headers = {name: str(value) for name, value in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(str(value) for value in values)
        body = response.get("body") or ""
        raw = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
        headers.setdefault("x-amzn-RequestId", request_id)
        return GatewayResult(int(response["statusCode"]), headers, raw)

    def _gateway_response(self, response_type: str, request_id: str) -> GatewayResult:
        status = _DEFAULT_STATUS.get(response_type, 400)
        family = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        config = self.api.gateway_responses.get(response_type) or self.api.gateway_responses.get(family) or {}
        status = int(config.get("StatusCode", status))
        message = _DEFAULT_MESSAGE.get(response_type, "Bad request")
        template = (config.get("ResponseTemplates") or {}).get("application/json")
        if template is None:
            body = json.dumps({"message": message})
        else:
            body = (
                template.replace("$context.requestId", request_id)
                .replace("$context.error.messageString", json.dumps(message))
                .replace("$context.error.message", message)
            )
        headers = {
            "Content-Type": "application/json",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": f"{response_type}Exception",
        }
        return GatewayResult(status, headers, body.encode())


class _Handler(BaseHTTPRequestHandler):
    gateway: Gateway
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name: value for name, value in self.headers.items()}
        result = self.gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        self.send_response(result.status)
        for name, value in result.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(result.body)))
        self.end_headers()
        self.wfile.write(result.body)

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the gateway (which answers a method a resource does not have as API Gateway
        # does), not http.server's 501 HTML page.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        # Access lines carry no query strings or headers, so no personal data reaches the console.
        if self.server_log:
            print(f"api  {self.command} {urlsplit(self.path).path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    server_log = True


def serve(gateway: Gateway, host: str, port: int, *, log: bool = True) -> ThreadingHTTPServer:
    handler = type("GatewayHandler", (_Handler,), {"gateway": gateway, "server_log": log})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="api-gateway", daemon=True).start()
    return server
