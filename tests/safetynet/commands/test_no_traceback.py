"""No traceback for any expected failure, on every command (`app.registered_commands`: a command
added later is covered by the same tests): against a dead endpoint, without credentials, with a
stack file that is not YAML or a config error, with malformed URLs, and with a missing bucket or
table. Each asserts the exit code (1 failed, 2 usage or config error) and one paragraph on stderr
that names what failed, why, and what to do. Run through `safetynet.cli.run`, in-process (one test
runs the console script as a process)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from safetynet.cli import app, run
from tests.support.restore_fixtures import copy_project
from tests.support.stacks import PROJECT_DIR

DEAD = "http://127.0.0.1:9"  # the discard port: connection refused at once
EXPORT = "s3://vault-no-traceback/exports/orders/AWSDynamoDB/01700000000000-abcdef12/"
COMMANDS = [info.name for info in app.registered_commands]
OFFLINE = {"synth": 0, "demo": None}
"""Commands that never call AWS through the endpoint: synth (exit 0 anyway); the demo reaches only
its own embedded emulator (and runs for minutes), so the dead endpoint does not apply to it."""


def args(command: str, project: Path) -> list[str]:
    """A valid invocation of `command` that has to call AWS; for a command this table does not
    know yet, the stack alone (it must then fail cleanly, at worst as a usage error)."""
    p = str(project)
    known = {
        "adopt": ["adopt", "-s", "prod", "--tag", "team=x", "--dry-run", "--project-dir", p],
        "backup": ["backup", "--scan", "orders", "--bucket", "vault-no-traceback"],
        "coverage": ["coverage", "-s", "prod", "--vault-bucket", "vault-no-traceback", "--project-dir", p],
        "cost": ["cost", "-s", "prod", "--project-dir", p],
        "demo": ["demo", "--items", "3", "--project-dir", p],
        "drill": ["drill", "-s", "prod", "--vault-bucket", "vault-no-traceback", "--project-dir", p],
        "refill": ["refill", "-s", "dr", "--table", "orders", "--yes", "--project-dir", p],
        "replay": ["replay", "-s", "prod", "--table", "orders", "--latest", "--dry-run", "--project-dir", p],
        "restore-plan": ["restore-plan", "-s", "prod", "--vault-bucket", "vault-no-traceback", "--project-dir", p],
        "rewind": [
            *("rewind", "-s", "prod", "--table", "orders", "--dry-run", "--project-dir", p),
            *("--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T01:00:00Z"),
        ],
        "stage": ["stage", EXPORT, "--table", "orders-test", "--yes"],
        "status": ["status", "-s", "prod", "--vault-bucket", "vault-no-traceback", "--project-dir", p],
        "synth": ["synth", "-s", "prod", "--summary", "--project-dir", p],
        "verify": ["verify", EXPORT],
    }
    return known.get(command, [command, "-s", "prod", "--project-dir", p])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project with the prod, test and dr stack files."""
    copy_project(tmp_path)
    for name in ("Pulumi.test.yaml", "Pulumi.dr.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


@pytest.fixture(autouse=True)
def _one_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """One attempt per call: the retries (10, with backoff) only make a dead endpoint slower."""
    import handlers.clients

    monkeypatch.setattr(handlers.clients, "RETRIES", Config(retries={"mode": "standard", "total_max_attempts": 1}))
    monkeypatch.setenv("SAFETYNET_VAULT_BUCKET", "vault-no-traceback")


def invoke(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = run(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def paragraph(err: str, headline: str) -> str:
    """The one stderr line (a paragraph: the console never breaks it) that carries `headline`."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    found = [line for line in lines if headline in line]
    assert len(found) == 1, err
    return found[0]


def no_traceback(out: str, err: str) -> None:
    assert "Traceback" not in out + err, out + err
    assert 'File "' not in err, err


# -- AWS cannot be reached, or not without credentials --------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_dead_endpoint_is_one_paragraph_and_exit_1(
    command: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if command in OFFLINE and OFFLINE[command] is None:
        pytest.skip(f"{command} reaches only its own embedded emulator")
    code, out, err = invoke(capsys, ["--endpoint-url", DEAD, *args(command, project)])
    no_traceback(out, err)
    if command in OFFLINE:
        assert code == OFFLINE[command], err
        return
    assert code == 1, out + err
    text = paragraph(err, "the AWS endpoint cannot be reached")
    assert text.startswith(f"{command}:") or text.startswith(f"safetynet {command}:"), text
    assert "Could not connect to the endpoint URL" in text  # why
    assert "check the network" in text and "--endpoint-url" in text  # what to do


@pytest.mark.parametrize("command", COMMANDS)
def test_no_credentials_is_one_paragraph_and_exit_1(
    command: str, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if command in OFFLINE and OFFLINE[command] is None:
        pytest.skip(f"{command} reaches only its own embedded emulator")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to find either
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session that never saw the test keys
    code, out, err = invoke(capsys, ["--endpoint-url", DEAD, *args(command, project)])
    no_traceback(out, err)
    if command in OFFLINE:
        assert code == OFFLINE[command], err
        return
    assert code == 1, out + err
    text = paragraph(err, "no AWS credentials found")
    assert "Unable to locate credentials" in text and "aws sso login" in text


# -- bad files and bad input: exit 2 before anything is read or written -----------------------------

BROKEN_YAML = "config:\n  aws:region: eu-central-1\n  safetynet:tables: [\n    {name: orders,\n"
READS_NO_STACK_FILE = {"backup", "verify", "stage"}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_stack_file_that_is_not_yaml_exits_2_with_file_line_and_column(
    command: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if command in READS_NO_STACK_FILE:
        pytest.skip(f"{command} reads no stack file (its malformed input is tested below)")
    argv = args(command, project)
    stack = argv[argv.index("-s") + 1] if "-s" in argv else "prod"  # the demo reads prod and test
    (project / f"Pulumi.{stack}.yaml").write_text(BROKEN_YAML)
    code, out, err = invoke(capsys, ["--endpoint-url", DEAD, *argv])
    no_traceback(out, err)
    assert code == 2, out + err
    text = paragraph(err, "not valid YAML")
    assert re.search(rf"Pulumi\.{stack}\.yaml:\d+:\d+: not valid YAML: ", text), text
    assert "fix the file" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_a_config_error_exits_2_naming_the_key(command: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if command in READS_NO_STACK_FILE:
        pytest.skip(f"{command} reads no stack file")
    argv = args(command, project)
    stack = argv[argv.index("-s") + 1] if "-s" in argv else "prod"
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(
        path.read_text().replace("hashKey: {name: customerId, type: S}", "hashKey: {name: customerId, type: X}", 1)
    )
    code, out, err = invoke(capsys, ["--endpoint-url", DEAD, *argv])
    no_traceback(out, err)
    assert code == 2, out + err
    assert re.search(r"safetynet:tables\[\d+\]\.hashKey\.type", err), err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["refill", "-s", "dr", "--table", "orders", "--export", "s3://bucket/no-export-here/"],
            "--export: not an export URL",
        ),
        (["verify", "s3://bucket/not-an-export/"], "not an export URL"),
        (["stage", "https://example.com/x", "--table", "orders-test", "--yes"], "not an export URL"),
        (
            ["backup", "--from-datapipeline", "bucket/prefix", "--table-arn", "arn:x", "--bucket", "b"],
            "s3://BUCKET/PREFIX/",
        ),
        (["status", "prod", "-s", "test"], "two stacks given (prod and -s test)"),
        (["refill", "--table", "orders"], "which stack? pass -s/--stack NAME"),
        (["drill", "-s", "prod", "--load", "sideways"], "'sideways' is not one of 'auto', 'import', 'batch-write'"),
        (["status", "-s", "nosuch"], "Pulumi.nosuch.yaml not found"),
    ],
)
def test_malformed_input_exits_2_before_anything_is_read(
    argv: list[str], message: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*argv, *(["--project-dir", str(project)] if "-s" in argv or argv[0] == "refill" else [])]
    code, out, err = invoke(capsys, ["--endpoint-url", DEAD, *argv])
    no_traceback(out, err)
    assert code == 2, out + err
    assert message in " ".join(err.split()), err


def test_an_unknown_profile_is_a_config_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(capsys, ["--profile", "nosuch", *args("status", project)])
    no_traceback(out, err)
    assert code == 2, err
    text = paragraph(err, "the AWS profile does not exist")
    assert "nosuch" in text and "aws configure list-profiles" in text


# -- missing bucket or table: exit 1, one paragraph (moto) ------------------------------------------


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["status", "-s", "prod", "--vault-bucket", "no-such-vault"], "the vault s3://no-such-vault: NoSuchBucket"),
        (["drill", "-s", "prod", "--vault-bucket", "no-such-vault"], "the bucket does not exist"),
        (["coverage", "-s", "prod", "--vault-bucket", "no-such-vault"], "the bucket does not exist"),
        (["verify", "s3://no-such-vault/exports/orders/AWSDynamoDB/01700000000000-abcdef12/"], "no-such-vault"),
        (["backup", "--scan", "no-such-table", "--bucket", "no-such-vault"], "table no-such-table does not exist"),
        (
            ["backup", "--scan", "orders", "--bucket", "no-such-vault"],
            "backup: the bucket does not exist (region us-east-1): NoSuchBucket",
        ),
        (["refill", "-s", "dr", "--table", "orders", "--yes"], "table orders does not exist: create it first"),
    ],
)
def test_a_missing_bucket_or_table_is_one_paragraph_and_exit_1(
    argv: list[str], what: str, aws: None, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if argv[:3] == ["backup", "--scan", "orders"]:
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    if argv[0] == "refill":
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket="vault-replica-example-0000", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    code, out, err = invoke(capsys, [*argv, *(["--project-dir", str(project)] if "-s" in argv else [])])
    no_traceback(out, err)
    assert code == 1, out + err
    assert what in " ".join((out + err).split())


# -- what AWS says: each kind named, with what to do --------------------------------------------------

AWS_ERRORS = {
    "AccessDeniedException": ("access denied", "safetynet status needs dynamodb:DescribeTable"),
    "ExpiredTokenException": ("the AWS credentials have expired", "sign in again"),
    "UnrecognizedClientException": ("the AWS credentials are not valid", "aws sts get-caller-identity"),
    "ThrottlingException": ("AWS throttled the requests, also after every retry", "run again later"),
    "ResourceNotFoundException": ("the table or resource does not exist", "check its name and the region"),
}


class Refusing:
    """A client on which every operation fails with one AWS error code."""

    def __init__(self, real: Any, code: str) -> None:
        self._real, self._code = real, code

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name in ("meta", "exceptions", "get_paginator", "can_paginate") or not callable(attr):
            return attr

        def refuse(**_: Any) -> Any:
            raise ClientError({"Error": {"Code": self._code, "Message": f"{self._code} says no"}}, name)

        return refuse


@pytest.mark.parametrize("code", list(AWS_ERRORS))
def test_each_aws_error_is_named_with_what_to_do(
    code: str, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.clients

    real = handlers.clients.client
    monkeypatch.setattr(handlers.clients, "client", lambda service, region=None: Refusing(real(service, region), code))
    rc, out, err = invoke(capsys, args("status", project))
    no_traceback(out, err)
    assert rc == 1, err
    headline, advice = AWS_ERRORS[code]
    text = paragraph(err, headline)
    assert text.startswith("status: ") and "(region eu-central-1)" in text
    assert f"{code}: {code} says no" in text and "the command stopped there" in text and advice in text


@pytest.mark.slow
def test_the_console_script_prints_no_traceback(project: Path) -> None:
    """The entry point itself (signal handler, exit code), as a shell runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "safetynet.cli", "--endpoint-url", DEAD, *args("status", project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert paragraph(proc.stderr, "no AWS credentials found").startswith("status: no AWS credentials found")


# -- Ctrl-C and SIGTERM (a KeyboardInterrupt) in a command -------------------------------------------


def _replace_callback(monkeypatch: pytest.MonkeyPatch, name: str, function: Any) -> None:
    [info] = [i for i in app.registered_commands if i.name == name]
    monkeypatch.setattr(info, "callback", function)


def test_an_interruption_no_command_handles_is_one_sentence_and_exit_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def status() -> None:
        raise KeyboardInterrupt

    _replace_callback(monkeypatch, "status", status)
    code, out, err = invoke(capsys, ["status"])
    no_traceback(out, err)
    assert code == 130
    assert err.strip() == "interrupted: the command stopped before it finished; run the same command again to finish it"


def test_a_command_that_says_what_its_interruption_left_is_not_repeated(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetynet.commands.common import interrupted

    def status() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise interrupted("half of it is done; finish with: safetynet status -s prod") from None

    _replace_callback(monkeypatch, "status", status)
    code, out, err = invoke(capsys, ["status"])
    no_traceback(out, err)
    assert code == 130
    assert err.strip() == "interrupted: half of it is done; finish with: safetynet status -s prod"
