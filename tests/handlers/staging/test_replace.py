"""Replace's wait for the tags after an import (handlers/staging/replace.py): TagResource is
eventually consistent, and IAM lets the staging role change or scan the table only once it carries
the stack's staging-target tag."""

from __future__ import annotations

from typing import Any

import pytest

from conventions.tags import STAGING_TARGET_TAG
from handlers.staging.exceptions import StagingError
from handlers.staging.replace import finish_replace, wait_for_tags
from tests.support.staging_fixtures import STACK, create_test_table, prod_spec, target_for

TAGS = {STAGING_TARGET_TAG: STACK, "team": "accounts"}


class LaggingTags:
    """A DynamoDB client whose ListTagsOfResource shows the tags only after `lag` calls."""

    def __init__(self, lag: int) -> None:
        self.lag = lag
        self.calls = 0

    def list_tags_of_resource(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        shown = TAGS if self.calls > self.lag else {}
        return {"Tags": [{"Key": k, "Value": v} for k, v in shown.items()]}


def test_it_waits_until_the_tags_read_back() -> None:
    ddb, slept = LaggingTags(lag=3), []
    wait_for_tags(ddb, "arn:table/customers-test", TAGS, sleep=slept.append, seconds=2.0)
    assert ddb.calls == 4 and slept == [2.0, 2.0, 2.0]


def test_it_fails_the_run_when_the_tags_never_appear() -> None:
    ddb, slept = LaggingTags(lag=100), []
    with pytest.raises(StagingError, match="did not read back within 10 s"):
        wait_for_tags(ddb, "arn:table/customers-test", TAGS, sleep=slept.append, polls=5, seconds=2.0)
    assert ddb.calls == 5 and len(slept) == 4


def test_nothing_to_wait_for_without_tags() -> None:
    ddb = LaggingTags(lag=100)
    wait_for_tags(ddb, "arn:table/customers-test", {}, sleep=pytest.fail)
    assert ddb.calls == 1


def test_finish_replace_tags_the_imported_table_before_anything_else(clients: tuple[Any, Any]) -> None:
    # Given an imported table: the schema, no tags
    _, ddb = clients
    target = target_for(prod_spec("customers"), mode="replace")
    create_test_table(ddb, target, tags={})
    # When its settings are re-applied
    applied = finish_replace(ddb, target, sleep=pytest.fail)
    # Then the tags come first, and read back
    assert applied[0] == "tags"
    arn = ddb.describe_table(TableName=target.name)["Table"]["TableArn"]
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags == dict(target.tags)


def test_finish_replace_runs_again_without_failing_on_what_it_applied(clients: tuple[Any, Any]) -> None:
    # Given a table whose settings were put back already (a resumed or retried finish)
    _, ddb = clients
    spec = prod_spec("orders")  # a stream, TTL and indexes
    target = target_for(spec, mode="replace")
    create_test_table(ddb, target, tags={})
    first = finish_replace(ddb, target, sleep=pytest.fail)
    # When it runs again, then it applies nothing twice (an enabled stream cannot be enabled again)
    assert finish_replace(ddb, target, sleep=pytest.fail) == first
    stream = ddb.describe_table(TableName=target.name)["Table"]["StreamSpecification"]
    assert stream == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
