"""handlers.clients: the one client factory of the Lambda tasks and the CLI."""

from __future__ import annotations

import pytest

from handlers import clients


def test_every_client_has_the_one_retry_configuration() -> None:
    ddb = clients.client("dynamodb", "eu-west-1")
    assert ddb.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 10}
    assert ddb.meta.region_name == "eu-west-1"


def test_the_region_defaults_to_the_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    assert clients.client("s3").meta.region_name == "ap-southeast-2"


def test_aws_endpoint_url_points_every_client_at_a_local_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    assert clients.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:5999"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert clients.client("dynamodb", "eu-west-1").meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
