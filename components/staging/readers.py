"""Cross-account staging: the prod stack's side (`safetynet:stagingReaders`) and the test
stack's side (`safetynet:staging.crossAccount`).

Prod grants each reader's staging roles read access to its tables' export prefixes (the vault's
bucket and key policies, declared by BackupVault from `staging_readers(cfg)`), and forwards the S3
"Object Created" events of those exports' `manifest-summary.json` - which S3 sends to PROD's default
event bus only - to the reader account's default bus (`ExportForwarding`). The test stack lets the
prod account put events on its default bus (`ProdExportEvents`); its pipeline's trigger then matches
the forwarded events exactly as it would match prod's own.

A reader of every table (no `tables`) costs a fixed size wherever AWS limits one: its grants name
the whole `exports/` prefix and its forwarding rule one wildcard, however many tables prod has. A
reader that selects tables gets exactly those prefixes, so its grants and pattern grow with its
selection; `staging_readers` refuses a selection whose forwarding pattern would not fit
EventBridge's pattern size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.common.iam import service_role
from components.common.policies import assume_role_policy
from components.config.readers import reader_path
from components.config.stack import StackConfig
from components.config.staging import CrossAccountSpec
from components.staging.policies import StagingReader, event_bus_arn, forward_exports_policy
from components.staging.targets import summary_event_pattern
from conventions.vault import EXPORTS_ROOT, export_prefix

# EventBridge's event pattern size (quota L-664C5505, 2,048 characters by default); the AWS
# provider sends patterns as compact JSON.
EVENT_PATTERN_CHARS = 2048
# S3 bucket names have at most 63 characters: a selection that fits with the longest fits with any.
LONGEST_BUCKET_NAME = "b" * 63


def staging_readers(cfg: StackConfig) -> list[StagingReader]:
    """`safetynet:stagingReaders` resolved against the stack's tables, in config order: a reader of
    every table gets no prefixes (the whole exports prefix), one that selects tables the export
    prefixes of their physical names. Raises ValueError, naming the reader, when a selection's
    forwarding pattern would exceed EventBridge's pattern size."""
    by_name = {t.name: t for t in cfg.tables}
    readers = []
    for i, r in enumerate(cfg.staging_readers):
        prefixes = None
        if r.tables is not None:
            prefixes = tuple(export_prefix(cfg.physical_name(by_name[n])) for n in r.selected(by_name))
            _check_selection(reader_path(i), prefixes)
        readers.append(
            StagingReader(
                where=reader_path(i),
                account=r.account,
                role_arns=tuple(r.role_arns),
                prefixes=prefixes,
                region=r.region,
            )
        )
    return readers


def forwarding_pattern_chars(prefixes: Sequence[str] | None) -> int:
    """Characters of a reader's forwarding pattern as EventBridge counts them, with the longest
    bucket name S3 allows."""
    return len(json.dumps(summary_event_pattern(LONGEST_BUCKET_NAME, prefixes), separators=(",", ":")))


def _check_selection(where: str, prefixes: Sequence[str]) -> None:
    chars = forwarding_pattern_chars(prefixes)
    if chars > EVENT_PATTERN_CHARS:
        raise ValueError(
            f"{where}.tables selects {len(prefixes)} tables: forwarding their exports' events takes an event "
            f"pattern of up to {chars} characters, over EventBridge's {EVENT_PATTERN_CHARS} (quota L-664C5505); "
            "select fewer tables, or omit tables to grant and forward every table's exports (a fixed size)"
        )


@dataclass(frozen=True)
class ExportForwardingArgs:
    """Inputs of an ExportForwarding."""

    reader: StagingReader
    """The reader account, its staging roles and export prefixes."""
    vault_bucket_name: pulumi.Input[str]
    """The vault bucket (the S3 events' source)."""
    account_id: pulumi.Input[str]
    """This (prod) stack's account: the forwarding role trusts EventBridge only for it."""
    region: pulumi.Input[str]
    """This stack's region: the reader's bus is in it unless the reader names its own region."""
    tags: Mapping[str, str]


class ExportForwarding(pulumi.ComponentResource):
    """One reader account's forwarding: an EventBridge rule on this account's default bus matching
    the reader's tables' (or every table's) `manifest-summary.json` "Object Created" events,
    targeting the reader account's default bus through a role that may only put events on it."""

    rule_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    """The forwarding role (the reader's bus receives the events from it)."""
    bus_arn: pulumi.Output[str]
    """The reader account's default event bus."""

    def __init__(self, name: str, args: ExportForwardingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:staging:ExportForwarding", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        reader = args.reader
        bus_arn = pulumi.Output.from_input(args.region).apply(
            lambda own: event_bus_arn(reader.region or own, reader.account)
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            description=f"completed exports of the tables staged by account {reader.account} -> its default bus",
            event_pattern=pulumi.Output.from_input(args.vault_bucket_name).apply(
                lambda bucket: json.dumps(summary_event_pattern(bucket, reader.prefixes))
            ),
            tags=dict(args.tags),
            opts=child,
        )
        role, policy = service_role(
            name,
            description=f"EventBridge: forward safetynet export events to account {reader.account}",
            trust_policy=pulumi.Output.all(account_id=args.account_id, source_arn=rule.arn).apply(
                lambda a: json.dumps(assume_role_policy("events.amazonaws.com", **a))
            ),
            policy=bus_arn.apply(lambda arn: json.dumps(forward_exports_policy(arn))),
            tags=args.tags,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            arn=bus_arn,
            # A bus in another account: EventBridge puts the events as this role.
            role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.rule_arn = rule.arn
        self.role_arn = role.arn
        self.bus_arn = bus_arn
        self.register_outputs({"ruleArn": rule.arn, "roleArn": role.arn, "busArn": bus_arn})


def build_export_forwarding(
    readers: Sequence[StagingReader],
    *,
    vault: Any,
    tags: Mapping[str, str],
    account_id: pulumi.Input[str],
    region: pulumi.Input[str],
) -> dict[str, Any] | None:
    """One ExportForwarding per reader; returns the `stagingReaders` stack output (None without
    readers). `vault` is the stack's BackupVault."""
    if not readers:
        return None
    accounts: dict[str, Any] = {}
    for reader in readers:
        forwarding = ExportForwarding(
            f"staging-reader-{reader.account}",
            ExportForwardingArgs(
                reader=reader,
                vault_bucket_name=vault.bucket_name,
                account_id=account_id,
                region=region,
                tags=tags,
            ),
        )
        accounts[reader.account] = {
            "roleArns": list(reader.role_arns),
            # Every table: the exports root itself.
            "exportPrefixes": list(reader.prefixes) if reader.prefixes is not None else [EXPORTS_ROOT],
            "eventBusArn": forwarding.bus_arn,
            "forwardRuleArn": forwarding.rule_arn,
            "forwardRoleArn": forwarding.role_arn,
        }
    out: dict[str, Any] = {"accounts": accounts}
    if vault.reader_key_statements is not None:
        out["keyPolicyStatements"] = vault.reader_key_statements
    return out


# -- the test stack's side ----------------------------------------------------------------------


def receive_permission_statement_id(environment: str, vault_account_id: str) -> str:
    """The statement id of the permission on the default bus (one per test environment)."""
    return f"safetynet-staging-{environment}-from-{vault_account_id}"


def check_vault_account(spec: CrossAccountSpec, *, own_account: str, prod_account: str | None) -> str:
    """`crossAccount.vaultAccountId` against what the program knows at deploy time: it is not this
    account, and it is the account prod's stack reports (output `accountId`, when it has one).
    Returns the account; raises ValueError naming the key otherwise."""
    vault = spec.vault_account_id
    if vault == own_account:
        raise ValueError(
            f"safetynet:staging.crossAccount.vaultAccountId {vault} is this stack's own account: same-account "
            "staging needs no cross-account setup; remove crossAccount"
        )
    if prod_account and prod_account != vault:
        raise ValueError(
            f"safetynet:staging.crossAccount.vaultAccountId is {vault} but the prod stack runs in {prod_account} "
            f'(its output accountId); write vaultAccountId: "{prod_account}"'
        )
    return vault


@dataclass(frozen=True)
class ProdExportEventsArgs:
    """Inputs of a ProdExportEvents."""

    spec: CrossAccountSpec
    """`safetynet:staging.crossAccount`."""
    environment: str
    """This test stack's environment (names the permission's statement)."""
    account_id: pulumi.Input[str]
    """This stack's account."""
    prod_account_id: pulumi.Input[str | None]
    """The prod stack's output `accountId` (None when prod does not export it)."""


class ProdExportEvents(pulumi.ComponentResource):
    """The permission on this account's default event bus for the prod account to put events: prod
    forwards its vault's export events there (prod's `safetynet:stagingReaders`). Added with
    `events:PutPermission` as one statement, so other statements on the bus stay as they are."""

    def __init__(self, name: str, args: ProdExportEventsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("safetynet:staging:ProdExportEvents", name, None, opts)
        spec = args.spec
        principal = pulumi.Output.all(own_account=args.account_id, prod_account=args.prod_account_id).apply(
            lambda a: check_vault_account(spec, **a)
        )
        permission = aws.cloudwatch.EventPermission(
            f"{name}-permission",
            event_bus_name="default",
            principal=principal,
            action="events:PutEvents",
            statement_id=receive_permission_statement_id(args.environment, spec.vault_account_id),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"statementId": permission.statement_id})
