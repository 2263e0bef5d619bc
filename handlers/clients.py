"""The one way safetynet creates boto3 clients: Lambda tasks and the CLI alike.

One botocore retry configuration for everything (adaptive mode: standard retries plus client-side
rate limiting, which backs off bulk scans and writes when DynamoDB throttles). The endpoint is
boto3's own choice: `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`) when set, as for a local
moto server, else the region's AWS endpoint. Clients are typed through boto3-stubs (a development
dependency, imported for type checking only; Lambda has boto3 but not the stubs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_backup import BackupClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient

RETRIES = Config(retries={"mode": "adaptive", "total_max_attempts": 10})
"""Every client's retry policy: at most 10 attempts in all, exponential backoff with jitter."""


@overload
def client(service: Literal["backup"], region: str | None = None) -> BackupClient: ...
@overload
def client(service: Literal["cloudwatch"], region: str | None = None) -> CloudWatchClient: ...
@overload
def client(service: Literal["dynamodb"], region: str | None = None) -> DynamoDBClient: ...
@overload
def client(service: Literal["dynamodbstreams"], region: str | None = None) -> DynamoDBStreamsClient: ...
@overload
def client(service: Literal["events"], region: str | None = None) -> EventBridgeClient: ...
@overload
def client(service: Literal["s3"], region: str | None = None) -> S3Client: ...
@overload
def client(service: Literal["sns"], region: str | None = None) -> SNSClient: ...
@overload
def client(service: Literal["sqs"], region: str | None = None) -> SQSClient: ...
@overload
def client(service: Literal["stepfunctions"], region: str | None = None) -> SFNClient: ...
@overload
def client(service: Literal["sts"], region: str | None = None) -> STSClient: ...
@overload
def client(service: str, region: str | None = None) -> Any: ...
def client(service: str, region: str | None = None) -> Any:
    """A new client for `service` in `region` (default: the environment's region), with RETRIES."""
    factory: Any = boto3.client
    return factory(service, region_name=region or None, config=RETRIES)
