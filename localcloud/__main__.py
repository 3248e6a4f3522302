"""``make run``: the whole service on this machine, no AWS account, no Docker."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from localcloud.cloud import LocalCloud, Options

# Records are sealed within seconds (AWS's default window is a minute), and log streams may deliver to the
# local receiver (plain http on loopback, refused on AWS); a --parameter overrides either.
LOCAL_DEFAULTS = {"SealingWindowSeconds": "2", "LogStreamAllowLocalDestinations": "true"}


def _arguments() -> Options:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("LOCAL_HOST", defaults.host))
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("LOCAL_API_PORT", defaults.port)),
        help="port of the API (default 3000)",
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        default=int(os.environ.get("LOCAL_AWS_PORT", defaults.aws_port)),
        help="port of the embedded AWS endpoint (default 4566)",
    )
    parser.add_argument(
        "--receiver-port",
        type=int,
        default=int(os.environ.get("LOCAL_RECEIVER_PORT", defaults.receiver_port)),
        help="port of the local log-stream receiver (default 4600; 0: none)",
    )
    parser.add_argument("--state-file", type=Path, default=defaults.state_file)
    parser.add_argument("--no-seed", action="store_true", help="start empty, without the demo tenant")
    parser.add_argument("--quiet", action="store_true", help="do not print a line per API request")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter, as sam deploy --parameter-overrides does (repeatable)",
    )
    args = parser.parse_args()
    parameters = dict(item.split("=", 1) for item in args.parameter if "=" in item)
    if len(parameters) != len(args.parameter):
        parser.error("--parameter takes NAME=VALUE")
    parameters = {**LOCAL_DEFAULTS, **parameters}
    return Options(
        host=args.host,
        port=args.port,
        aws_port=args.aws_port,
        receiver_port=args.receiver_port,
        state_file=args.state_file,
        seed=not args.no_seed,
        log_requests=not args.quiet,
        parameters=parameters,
    )


def _banner(cloud: LocalCloud) -> str:
    lines = [
        "",
        "Local cloud is up.",
        f"  Console:      {cloud.api_url}/console/index.html   (sign in with a demo key below)",
        f"  API:          {cloud.api_url}",
        f"  AWS endpoint: {cloud.aws_url}   (region {cloud.options.region}, any credentials)",
        f"  State:        {cloud.options.state_file}",
    ]
    users = cloud.demo.get("users", [])
    if users:
        lines += ["", "Demo users (tenant {}):".format(cloud.demo["tenants"][0]["id"])]
        lines += [f"  {u['name']:<12} {u['role']:<8} {u['api_key']}" for u in users]
        lines += [
            "",
            "Try:",
            f"  curl -s {cloud.api_url}/audit/types -H 'ld-api-key: {users[0]['api_key']}'",
            f"  curl -s {cloud.api_url}/audit/types -H 'ld-api-key: {users[-1]['api_key']}'   # no audit:read: 403",
            f"  curl -s {cloud.api_url}/audit/types                                           # no key: 401",
            f"  .venv/bin/aws --endpoint-url {cloud.aws_url} --region {cloud.options.region} dynamodb list-tables",
            f"  curl -s {cloud.api_url}/audit/tenants/{cloud.demo['tenants'][0]['id']}/verify"
            f" -H 'ld-api-key: {users[0]['api_key']}'   # is the log complete and unmodified?",
        ]
        if cloud.receiver is not None:
            lines += [
                "",
                f"Log streams: a receiver on {cloud.receiver.url} (secret {cloud.receiver.secret}); see README.",
            ]
    lines += ["", "Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def main() -> None:
    cloud = LocalCloud(_arguments())
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    cloud.start()
    print(_banner(cloud), flush=True)
    stop.wait()
    print("Stopping...", flush=True)
    cloud.stop()


if __name__ == "__main__":
    main()
