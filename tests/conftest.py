"""Shared fixtures: fake AWS credentials, moto, and offline synth of the program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401 (see below)
import pytest

# Imported up front: hypothesis's pytest plugin otherwise imports it in the terminal summary,
# after the Pulumi synths, and CPython 3.11's parser can then fail ("AST constructor recursion
# depth mismatch"), turning a green single-process run into an internal error.

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Every test that uses moto (in-process or its server in this process) gets the same moto the
# demo runs: see safetynet/moto_compat.py.
from safetynet import moto_compat  # noqa: E402

moto_compat.apply()


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region for every test: nothing can reach a real account."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's in-process AWS, started before any boto3 client exists."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto as a server on 127.0.0.1 (a free port), for the CLI run as its own process; yields
    the endpoint URL (AWS_ENDPOINT_URL)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def project_dir() -> Path:
    """The repository root (Pulumi.yaml, __main__.py, stack files)."""
    return PROJECT_DIR


def synth_stack(stack: str = "prod", project_dir: Path = PROJECT_DIR, **kwargs: Any) -> Any:
    """Run the program for `stack` under Pulumi's mocks (see safetynet.synth.synth)."""
    from safetynet.synth import synth

    return synth(project_dir, stack, **kwargs)


def failed_synth(stack: str, tmp_path: Path, **kwargs: Any) -> str:
    """Synthesize `stack` in a separate process, expecting the program to fail; returns its
    error output. A failed program leaves Pulumi's shared event loop with pending work, which
    must not leak into other tests. `kwargs` are safetynet.synth.synth's (JSON values)."""
    args = tmp_path / "synth-args.json"
    args.write_text(json.dumps(kwargs))
    code = (
        "import json; from safetynet.synth import synth; "
        f"synth({str(PROJECT_DIR)!r}, {stack!r}, **json.load(open({str(args)!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=PROJECT_DIR)
    assert out.returncode != 0, "the synth was expected to fail"
    return out.stderr
