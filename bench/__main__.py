"""Run every benchmark and print its table; exit 1 when a figure misses its target."""

from __future__ import annotations

import argparse
import sys

from bench import (
    account_paths,
    audit_paths,
    cold_start,
    console_size,
    cost,
    flooding,
    gdpr_paths,
    hot_partition,
    local_cloud,
    pages,
    streams,
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--samples", type=int, default=9, help="fresh interpreters per function (default 9)")
    parser.add_argument("--events", type=int, default=10_000, help="events ingested by the write path (default 10000)")
    parser.add_argument(
        "--only",
        choices=[
            "cold-start",
            "audit",
            "cost",
            "accounts",
            "gdpr",
            "flooding",
            "pages",
            "hot-partition",
            "local-cloud",
            "console",
            "streams",
        ],
        help="run one table",
    )
    parser.add_argument(
        "--records",
        default=",".join(str(n) for n in pages.SIZES),
        help="tenant sizes of the pages bench, comma-separated (default 1000,20000,200000)",
    )
    args = parser.parse_args()

    ok = True
    if args.only in (None, "cold-start"):
        table, passed = cold_start.report(cold_start.measure(args.samples))
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "audit"):
        table, passed = audit_paths.report(audit_paths.measure(events=args.events))
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "cost"):
        table, passed = cost.run(events=args.events)
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "accounts"):
        table, passed = audit_paths.report(account_paths.measure(), title="Account routes, warm (moto in-process)")
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "gdpr"):
        table, passed = audit_paths.report(gdpr_paths.measure(), title="GDPR workflows, local (moto, real ASL)")
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "flooding"):
        table, passed = audit_paths.report(
            flooding.measure(), title="A flood of bad keys from one source (WAF, authorizer, recorder; simulated time)"
        )
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "streams"):
        table, passed = audit_paths.report(
            streams.measure(), title="Log streams: added calls, one stream's rate and latency (issue #15)"
        )
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "pages"):
        sizes = [int(n) for n in args.records.split(",")]
        table, passed = audit_paths.report(
            pages.measure(sizes), title="Pages by tenant size, warm (moto in-process; service ms excludes AWS calls)"
        )
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "hot-partition"):
        table, passed = audit_paths.report(
            hot_partition.measure(), title="Writes per second per partition key under a burst (key code only, no AWS)"
        )
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "local-cloud"):
        table, passed = audit_paths.report(
            local_cloud.measure(), title="The local cloud end to end (make run's process, over HTTP)"
        )
        print(table, end="\n\n", flush=True)
        ok = ok and passed
    if args.only in (None, "console"):
        table, passed = audit_paths.report(console_size.measure(), title="The Console in a browser (chromium)")
        print(table, flush=True)
        ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
