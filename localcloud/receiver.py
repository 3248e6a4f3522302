"""A small log-stream receiver: what a tenant's HTTPS endpoint does, on this machine.

``make run`` starts one on ``http://127.0.0.1:4600`` (``--receiver-port``); on its own::

    .venv/bin/python -m localcloud.receiver --port 4600 --secret "$SECRET"

It takes ``POST`` deliveries on any path, checks ``X-LD-Signature`` with the stream's secret (and refuses
a stale or wrong one with 401, as a real receiver should), drops records it has already seen (by kind and
record id: deliveries are at least once), prints one line per new record and appends it to
``.local/received.jsonl``. ``fail_next`` makes it answer 503 to the next deliveries (tests: an outage).
"""

from __future__ import annotations

import argparse
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from audit_service.domain.streams import SIGNATURE_HEADER, STREAM_HEADER, verify_signature

DEFAULT_PORT = 4600
DEFAULT_SECRET = "local-receiver-secret-0123456789abcdef"  # noqa: S105 - the local demo's, printed by make run


@dataclass
class Receiver:
    secret: str = DEFAULT_SECRET
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    log_file: Path | None = None
    echo: bool = False
    fail_next: int = 0  # answer 503 to this many deliveries, then recover
    records: list[dict[str, Any]] = field(default_factory=list)  # new records, in arrival order
    lines: list[dict[str, Any]] = field(default_factory=list)  # every line taken, repeats included
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # every request: headers, status
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the receiver first"
        return f"http://{self.host}:{self._server.server_address[1]}/ingest"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.take({name.lower(): value for name, value in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name="log-stream-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def take(self, headers: dict[str, str], body: bytes) -> int:
        """One delivery; ``headers`` by lower-case name (HTTP header names are case-insensitive)."""
        with self._lock:
            authenticated, entries = self._open(headers, body)
            status = 401 if not authenticated else 503 if self.fail_next > 0 else 200
            if authenticated and self.fail_next > 0:
                self.fail_next -= 1
            self.deliveries.append({"headers": headers, "status": status, "lines": len(entries)})
            if status != 200:
                return status
            for entry in entries:
                self.lines.append(entry)
                seen = _identity(entry)
                if seen in self._seen:
                    continue  # a redelivery: at least once, deduplicated here on the record id
                self._seen.add(seen)
                self.records.append(entry)
                self._keep(headers.get(STREAM_HEADER.lower(), ""), entry)
            return status

    def _open(self, headers: dict[str, str], body: bytes) -> tuple[bool, list[dict[str, Any]]]:
        """Whether the delivery proves it knows the secret, and its lines: a generic endpoint's signed JSON
        lines, or what Splunk's HEC (a token, events per line) and Datadog's intake (a key, a JSON array of
        entries whose message is the line) would receive."""
        if headers.get("authorization", "").startswith("Splunk "):
            lines = [json.loads(line)["event"] for line in body.decode().splitlines()]
            return hmac.compare_digest(headers["authorization"], f"Splunk {self.secret}"), lines
        if "dd-api-key" in headers:
            lines = [json.loads(entry["message"]) for entry in json.loads(body)]
            return hmac.compare_digest(headers["dd-api-key"], self.secret), lines
        signed = verify_signature(self.secret, headers.get(SIGNATURE_HEADER.lower(), ""), body)
        return signed, [json.loads(line) for line in body.decode().splitlines()] if signed else []

    def _keep(self, stream_id: str, entry: dict[str, Any]) -> None:
        kind, record_id = _identity(entry)
        record = entry.get("record") or entry.get("unmapped", {}).get("record") or {}
        kind_type = record.get("type") or record.get("action")
        if self.echo:
            print(f"[receiver] stream {stream_id}: {kind} {kind_type} {record_id}", flush=True)
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with self.log_file.open("a") as out:
                out.write(json.dumps({"stream_id": stream_id, "received_at": time.time(), **entry}) + "\n")


def _identity(entry: dict[str, Any]) -> tuple[str, str]:
    """What a receiver dedupes on: the record's kind and id (a JSON line's own; an OCSF event's metadata.uid)."""
    if "metadata" in entry:
        return str(entry.get("unmapped", {}).get("kind", "")), str(entry["metadata"]["uid"])
    return str(entry["kind"]), str(entry["id"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m localcloud.receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--secret", default=DEFAULT_SECRET, help="the stream's secret (checks each signature)")
    parser.add_argument("--log-file", type=Path, default=Path(".local/received.jsonl"))
    args = parser.parse_args()
    receiver = Receiver(args.secret, args.host, args.port, log_file=args.log_file, echo=True).start()
    print(f"Receiving log-stream deliveries on {receiver.url}; Ctrl-C stops.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
