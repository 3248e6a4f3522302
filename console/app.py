"""GET /console/{file}: the Console's static files, served by the API itself (its own origin, behind its WAF).

The files hold no data, so no key is needed for them (the template gives these
routes no authorizer); everything they show comes from the API, with the
person's key. Same origin means no CORS to configure and a Content-Security-
Policy of ``connect-src 'self'``. Only the files named here can be read.
``GET /console`` redirects to the app (relative paths then resolve under the
stage's prefix on AWS and at the root locally).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response

from audit_service.api.http import create_app
from audit_service.observability import instrumented

HERE = Path(__file__).resolve().parent
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cache-Control": "max-age=300",
}
CONTENT = {name: (HERE / name).read_text(encoding="utf-8") for name in FILES}  # read once per container
app = create_app()


@app.get("/console", include_in_schema=False)
def console_root() -> Response[str]:
    return Response(302, "text/plain; charset=utf-8", "", headers={**HEADERS, "Location": "console/index.html"})


@app.get("/console/<name>", include_in_schema=False)
def console_file(name: str) -> Response[str]:
    if name not in FILES:
        return Response(404, "text/plain; charset=utf-8", "not found", headers=HEADERS)
    return Response(200, FILES[name], CONTENT[name], headers=HEADERS)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
