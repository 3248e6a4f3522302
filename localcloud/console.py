"""The Console's static files, served by the local API server under ``/console/`` (on AWS: the template's
bucket behind CloudFront), with the same security headers: a strict Content-Security-Policy, no framing."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1] / "console"
PREFIX = "/console"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_SERVED = {"index.html", "app.js", "app.css"}


def is_console(path: str) -> bool:
    route = urlsplit(path).path
    return route == PREFIX or route.startswith(PREFIX + "/")


def answer(path: str) -> tuple[int, dict[str, str], bytes]:
    """The file a Console path names: ``index.html`` for the folder; 404 for anything else."""
    name = unquote(urlsplit(path).path)[len(PREFIX) :].lstrip("/") or "index.html"
    if name not in _SERVED:  # a fixed list: nothing else under the folder (or outside it) is reachable
        return 404, {"Content-Type": "text/plain; charset=utf-8", **HEADERS}, b"not found"
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    charset = "; charset=utf-8" if kind.startswith("text/") or kind.endswith("javascript") else ""
    return 200, {"Content-Type": kind + charset, **HEADERS}, (ROOT / name).read_bytes()
