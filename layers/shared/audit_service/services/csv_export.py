"""The audit log as CSV, for auditors who live in spreadsheets: one row per record, as the JSON API shows it.

Cells a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are prefixed with ``'`` (OWASP's advice
against CSV injection): a producer's value can never execute in the reader's
spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

COLUMNS = (
    "id",
    "timestamp",
    "type",
    "name",
    "author_id",
    "author_name",
    "division_id",
    "division_name",
    "environment_id",
    "environment_name",
    "deployment_id",
    "deployment_name",
    "previous",
    "current",
    "request_id",
    "source_ip",
    "user_agent",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(record: dict[str, Any]) -> list[str]:
    values: dict[str, Any] = {key: record.get(key) for key in ("id", "timestamp", "type", "name")}
    for ref in ("author", "division", "environment", "deployment"):
        found = record.get(ref) or {}
        values[f"{ref}_id"], values[f"{ref}_name"] = found.get("id"), found.get("name")
    for key in ("previous", "current", "request_id", "source_ip", "user_agent"):
        values[key] = record.get(key)
    return [_cell(values[column]) for column in COLUMNS]


def to_csv(records: Iterable[dict[str, Any]]) -> bytes:
    """UTF-8 with a byte-order mark (so that spreadsheets read names right), CRLF line ends (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow(_row(record))
    return ("\ufeff" + out.getvalue()).encode()
