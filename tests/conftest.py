"""Shared fixtures: fake AWS credentials, moto, and offline synth of the program."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Imported up front: hypothesis's pytest plugin otherwise imports it in the terminal summary,
# after the Pulumi synths, and CPython 3.11's parser can then fail ("AST constructor recursion
# depth mismatch"), turning a green single-process run into an internal error.
import hypothesis  # noqa: F401
import pytest

# Every test that uses moto (in-process or its server in this process) gets the same moto the
# demo runs: see safetynet/local/moto_compat.py.
from safetynet.local import moto_compat
from tests.support.stacks import PROJECT_DIR, shipped_synth

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


@pytest.fixture(scope="session")
def prod_synth() -> Any:
    """The shipped prod stack, synthesized once per test process (read only)."""
    return shipped_synth("prod")


@pytest.fixture(scope="session")
def test_synth() -> Any:
    """The shipped test stack (with prod's outputs), synthesized once per test process (read only)."""
    return shipped_synth("test")


@pytest.fixture(scope="session")
def dr_synth() -> Any:
    """The shipped dr stack, synthesized once per test process (read only)."""
    return shipped_synth("dr")


@pytest.fixture
def pulumi_mocks() -> Any:
    """Fresh recording Pulumi mocks for a unit test of one component (tests/support/pulumi_mocks.py)."""
    from tests.support.pulumi_mocks import install

    return install()
