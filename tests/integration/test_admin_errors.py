"""The operator's tool says what went wrong and what to do, in one line, never with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit_service.admin import cli


def error_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(list(argv)) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return str(json.loads(captured.err)["error"])


def test_without_a_deployment_it_asks_which(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("USERS_TABLE", "TENANTS_TABLE", "API_KEYS_TABLE", "DATA_KEY_ARN"):
        monkeypatch.delenv(name, raising=False)
    message = error_of(capsys, "user", "create", "--name", "Lin", "--email", "lin@example.com")
    assert "--stack" in message and "--local" in message


def test_a_missing_local_state_file_says_to_start_the_local_cloud(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "demo.json"
    message = error_of(capsys, "--local", "--state-file", str(state), "user", "find", "--email", "a@example.com")
    assert str(state) in message and "make run" in message


def test_an_unknown_stack_names_the_stack_and_the_region_setting(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    message = error_of(capsys, "--stack", "no-such-stack", "user", "find", "--email", "a@example.com")
    assert "no-such-stack" in message and "AWS_DEFAULT_REGION" in message


def test_no_region_and_no_credentials_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert "AWS_DEFAULT_REGION" in error_of(capsys, "--stack", "s", "user", "find", "--email", "a@example.com")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert "credentials" in error_of(capsys, "--stack", "s", "user", "find", "--email", "a@example.com")
