"""The chain in whole stacks (components/stack.py): the shipped prod stack has one chain for its
three tables every 15 minutes, alarming to DisasterWatch's topic; tables opt out or choose their
own window; test and dr stacks have none; DisasterWatch counts the ledger as the stack's own."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from conventions.chain import CHAIN_CONTEXT_ARCHIVE_PATH, ChainContext
from conventions.watch import CONTEXT_ARCHIVE_PATH, WatchContext
from tests.support.stacks import synth_stack

FUNCTION = "aws:lambda/function:Function"
CHAIN_TASK = "chain-task"


def chain_context(synth: Any) -> ChainContext:
    code = synth.one(FUNCTION, CHAIN_TASK)["inputs"]["code"]["archive"]
    return ChainContext.from_json(code[f"handlers/{CHAIN_CONTEXT_ARCHIVE_PATH}"]["text"])


def test_the_shipped_prod_stack_chains_every_table_every_15_minutes(prod_synth: Any) -> None:
    ctx = chain_context(prod_synth)
    assert [t.physical_name for t in ctx.tables] == ["orders", "customers", "inventory"]
    assert {t.every_seconds for t in ctx.tables} == {900}
    assert {t.view for t in ctx.tables} == {"NEW_AND_OLD_IMAGES"}
    assert ctx.vault_bucket == prod_synth.outputs["vaultBucketName"]
    assert ctx.kms_key_arn == prod_synth.outputs["kmsKeyArn"]
    assert [t.arn for t in ctx.tables] == [
        prod_synth.outputs["tables"][t]["arn"] for t in ("orders", "customers", "inventory")
    ]
    schedule = prod_synth.one("aws:scheduler/schedule:Schedule", "chain-schedule")["inputs"]
    assert schedule["scheduleExpression"] == "rate(15 minutes)"
    assert prod_synth.outputs["incrementalExports"]["tables"] == 3
    assert prod_synth.outputs["incrementalExports"]["ledgerTableName"] == "safetynet-chain-ledger-prod"


def test_the_ledger_is_kept_like_every_table_of_the_prod_stack(prod_synth: Any) -> None:
    ledger = prod_synth.one("aws:dynamodb/table:Table", "chain-ledger")
    assert ledger["options"]["protect"] is True and ledger["options"]["retainOnDelete"] is True
    assert ledger["inputs"]["deletionProtectionEnabled"] is True
    backup = json.loads(
        prod_synth.one("aws:scheduler/schedule:Schedule", "chain-ledger-backup-schedule")["inputs"]["target"]["input"]
    )
    assert backup["TableArn"].endswith(":table/safetynet-chain-ledger-prod")


def test_the_chain_alarms_notify_the_watch_topic(prod_synth: Any) -> None:
    topic = prod_synth.outputs["watch"]["topicArn"]
    for name in ("chain-failed", "chain-late"):
        alarm = prod_synth.one("aws:cloudwatch/metricAlarm:MetricAlarm", name)["inputs"]
        assert alarm["alarmActions"] == [topic]


def test_disasterwatch_counts_the_ledger_as_a_table_of_the_stack(prod_synth: Any) -> None:
    fn = prod_synth.one(FUNCTION, "watch-freshness")["inputs"]["code"]["archive"]
    ctx = WatchContext.from_json(fn[f"handlers/{CONTEXT_ARCHIVE_PATH}"]["text"])
    assert "safetynet-chain-ledger-prod" in ctx.owned_table_names
    assert ctx.coverage_of("safetynet-chain-ledger-prod") is not None


def test_the_prod_stack_replicates_its_vault_to_the_dr_stacks_region(prod_synth: Any, dr_synth: Any) -> None:
    replica = prod_synth.outputs["vaultReplica"]
    assert replica["region"] == "eu-west-1"
    dr_region = dr_synth.outputs["region"]
    assert dr_region == replica["region"]


def test_test_and_dr_stacks_have_no_chain(test_synth: Any, dr_synth: Any) -> None:
    for synth in (test_synth, dr_synth):
        assert not [r for r in synth.resources if r["name"].startswith("chain")]
        assert "incrementalExports" not in synth.outputs


@cache
def mixed_synth() -> Any:
    """Prod with a 1-hour chain, `orders` opted out and `customers` on 30 minutes with NEW_IMAGE."""
    from ruamel.yaml import YAML

    from tests.support.stacks import PROJECT_DIR

    config = YAML(typ="safe").load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    tables = [dict(t) for t in config["safetynet:tables"]]
    tables[0]["incremental"] = False
    tables[1]["incremental"] = {"every": "30m", "view": "NEW_IMAGE"}
    backup = {**config["safetynet:backup"], "incremental": {"every": "1h"}}
    return synth_stack("prod", config_overrides={"tables": tables, "backup": backup})


def test_a_table_opts_out_and_another_chooses_its_window_and_view() -> None:
    synth = mixed_synth()
    ctx = chain_context(synth)
    assert [(t.physical_name, t.every_seconds, t.view) for t in ctx.tables] == [
        ("customers", 1800, "NEW_IMAGE"),
        ("inventory", 3600, "NEW_AND_OLD_IMAGES"),
    ]
    schedule = synth.one("aws:scheduler/schedule:Schedule", "chain-schedule")["inputs"]
    assert schedule["scheduleExpression"] == "rate(30 minutes)"
    # the opted-out table keeps its nightly export
    nightly = json.loads(
        synth.one("aws:scheduler/schedule:Schedule", "orders-export-schedule")["inputs"]["target"]["input"]
    )
    assert nightly["TableArn"] == synth.outputs["tables"]["orders"]["arn"]
