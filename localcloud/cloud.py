"""Starting and stopping the whole local cloud."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from localcloud.gateway import Gateway, serve
from localcloud.mailer import LocalMailer
from localcloud.pollers import Pollers
from localcloud.provision import Stack, provision
from localcloud.receiver import Receiver
from localcloud.runtime import Runtime, install_lambda_invoker


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 3000
    aws_port: int = 4566
    receiver_port: int = 4600  # the local log-stream receiver (localcloud/receiver.py); 0: none
    region: str = "us-east-1"
    stack_name: str = "audit-local"
    state_file: Path = Path(".local/demo.json")
    outbox_file: Path | None = None  # the stand-in mailer's outbox; by default next to the state file

    @property
    def outbox(self) -> Path:
        return self.outbox_file or self.state_file.with_name("outbox.jsonl")

    seed: bool = True
    log_requests: bool = True
    parameters: dict[str, str] = field(default_factory=dict)  # template parameter overrides


@dataclass
class LocalCloud:
    options: Options
    stack: Stack | None = None
    runtime: Runtime | None = None
    demo: dict[str, Any] = field(default_factory=dict)
    _moto: Any = None
    _mock: Any = None
    _api: ThreadingHTTPServer | None = None
    _pollers: Pollers | None = None
    _mailer: LocalMailer | None = None
    receiver: Receiver | None = None

    @property
    def aws_url(self) -> str:
        return f"http://{self.options.host}:{self.options.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def start(self) -> None:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        opts = self.options
        # The SDK clients of this process (the handlers', the Encryption SDK's, the pollers') reach the
        # embedded AWS in memory (moto's mock); everything outside it (the AWS CLI, ld-audit-admin, tests)
        # reaches the same backends through the server's endpoint. In-process calls skip an HTTP round
        # trip and a web framework each: the local cloud keeps up with hundreds of events a second.
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.update(
            {
                # S3 keeps the server's endpoint: presigned URLs handed to callers must point at it.
                "AWS_ENDPOINT_URL_S3": self.aws_url,
                "AWS_DEFAULT_REGION": opts.region,
                "AWS_REGION": opts.region,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "MOTO_PORT": str(opts.aws_port),
                "POWERTOOLS_METRICS_DISABLED": "false",
            }
        )
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Keep-alive between the functions' SDK clients and the embedded AWS, as AWS's endpoints do: with
        # HTTP/1.0 every call opened a new connection.
        from werkzeug.serving import WSGIRequestHandler

        WSGIRequestHandler.protocol_version = "HTTP/1.1"
        from localcloud import moto_fixes

        moto_fixes.install()
        self._moto = ThreadedMotoServer(ip_address=opts.host, port=opts.aws_port, verbose=False)
        self._moto.start()
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start(reset=False)  # the server's backends, shared

        config = Config(retries={"mode": "standard", "max_attempts": 3})

        def clients(service: str) -> Any:
            return boto3.client(service, region_name=opts.region, config=config)

        self.stack = provision(clients, stack_name=opts.stack_name, region=opts.region, parameters=opts.parameters)
        os.environ.update(self.stack.environment())
        self.runtime = Runtime(self.stack)
        install_lambda_invoker(self.runtime)
        if opts.seed:
            from localcloud.seed import seed_demo

            self.demo = seed_demo()
        apis = list(self.stack.apis.values())
        if len(apis) != 1:
            raise RuntimeError(f"the local cloud serves exactly one API; the template declares {len(apis)}")
        self._api = serve(
            Gateway(apis[0], self.runtime, region=opts.region), opts.host, opts.port, log=opts.log_requests
        )
        self._pollers = Pollers(self.stack.mappings, self.runtime, clients, opts.region)
        self._pollers.start()
        self._mailer = LocalMailer(
            clients,
            bus_name=self.stack.ref("AuditEventBus"),
            mailer_key_arn=self.stack.attribute("MailerKey", "Arn"),
            outbox=opts.outbox,
            api_url=self.api_url,
            echo=True,
        ).install()
        self._mailer.start()
        if opts.receiver_port:
            self.receiver = Receiver(
                host=opts.host,
                port=opts.receiver_port,
                log_file=opts.state_file.with_name("received.jsonl"),
                echo=True,
            ).start()
        self._write_state()

    def _write_state(self) -> None:
        assert self.stack is not None
        state = {
            "api_url": self.api_url,
            "console_url": f"{self.api_url}/console/index.html",
            "aws_endpoint_url": self.aws_url,
            "region": self.options.region,
            "stack_name": self.stack.name,
            "resources": self.stack.physical,
            "environment": self.stack.environment(),
            "outbox": str(self.options.outbox),
            "receiver": {"url": self.receiver.url, "secret": self.receiver.secret} if self.receiver else None,
            **self.demo,
        }
        self.options.state_file.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: whoever waits for the file never reads half of it.
        partial = self.options.state_file.with_suffix(".partial")
        partial.write_text(json.dumps(state, indent=2))
        partial.replace(self.options.state_file)

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
        if self._mailer is not None:
            self._mailer.stop()
        if self._pollers is not None:
            self._pollers.stop()
        if self._api is not None:
            self._api.shutdown()
        if self._mock is not None:
            self._mock.stop(remove_data=False)
        if self._moto is not None:
            self._moto.stop()
        if self.options.state_file.exists():
            self.options.state_file.unlink()
