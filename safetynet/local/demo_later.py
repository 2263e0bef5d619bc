"""The demo's steps after Recovery, each over the step function of its own module:

6. Writes after the backup (`safetynet.local.demo_chain.chain_step`): writes go on after the
   nightly export, the emulator exporter captures them in incremental windows from the table's
   stream, the table is lost, and it comes back from the export plus the chain, item for item.
7. Bad release (`safetynet.local.demo_rewind`): a release's writes in a window are rewound item
   by item; good writes around them stay.

A step whose module is not there is left out of the story and the summary (the demo stays whole).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from safetynet.local.demo_data import demo_item
from safetynet.local.demo_run import TABLE_TYPE, DemoFailure, DemoRun

CHAIN_TABLE = "orders"
"""It declares a stream (NEW_AND_OLD_IMAGES) the emulator exporter reads, and local secondary
indexes: it comes back as `pulumi up` + `safetynet refill` + `safetynet replay` bring it back."""


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


class LaterSteps(DemoRun):
    """Steps 6 and 7 (mixed into `Demo`)."""

    def declared(self, logical: str) -> dict[str, Any]:
        """The prod stack's declared inputs of a table."""
        [t] = [
            t
            for t in self.prod.of_type(TABLE_TYPE)
            if (t["inputs"].get("tags") or {}).get("safetynet:table") == logical
        ]
        return dict(t["inputs"])

    def chain(self) -> None:
        module = _module("safetynet.local.demo_chain")
        if module is None:
            return
        from safetynet.local.deploy import apply_settings, create_table_request, without_stream

        inputs = self.declared(CHAIN_TABLE)
        name = inputs["name"]
        title = f"6. Writes after the backup: {name} lost, back to the chain's last second"
        with self.step("chain", title) as r:
            result = module.chain_step(
                ddb=self.client("dynamodb"),
                streams=self.client("dynamodbstreams"),
                s3=self.client("s3"),
                table=name,
                bucket=self.prod.outputs["vaultBucketName"],
                anchor=self.exports[CHAIN_TABLE],
                # its stream comes back after the refill, as after the load (deploy_table's stream_later)
                create_request=without_stream(create_table_request(inputs)),
                new_item=lambda i: demo_item(self.spec(CHAIN_TABLE), i, self.seed),
                seed=self.seed,
            )
            self.console.print(
                f"  {result.writes:,} writes (updates, deletes, new items) after the nightly export; the "
                f"emulator exporter wrote them from the stream of {name} as {result.windows} incremental windows "
                f"({result.changes:,} changed items)"
            )
            self.console.print(
                f"  {name} is lost, created again from the nightly export and replayed window by window "
                f"({result.puts:,} puts, {result.deletes:,} deletes), as "
                f"[bold]safetynet replay -s prod --table {CHAIN_TABLE} --latest[/] does"
            )
            # The step recreates the table with CreateTable alone; `pulumi up` also applies what the
            # program declares beside it (PITR, TTL, the stream): the rewind step needs PITR and the stream.
            apply_settings(self.client("dynamodb"), inputs)
            point = result.recovery_point.strftime("%H:%M:%SZ")
            self.console.print(
                f"  back to {point}, the chain's last second: {result.items:,} items, {result.mismatches} mismatches"
            )
            r.items = result.changes
            self.report.extra_figures["writes after the backup, replayed"] = result.writes
            self.report.extra_figures[f"items back at the chain's end ({point})"] = result.items
            self.report.mismatches += result.mismatches
            if result.mismatches:
                raise DemoFailure(f"{result.mismatches} items differ after the chain restore")

    def rewind(self) -> None:
        module = _module("safetynet.local.demo_rewind")
        if module is None:
            return
        from components.config.loading import decode_pulumi_config, parse_stack_config
        from safetynet.commands.common import Clients
        from safetynet.synth import read_stack_config

        cfg = parse_stack_config(decode_pulumi_config(read_stack_config(self.project_dir, "prod")[0]))
        bucket = self.prod.outputs["vaultBucketName"]
        m = module
        with self.step("rewind", f"7. Bad release: {m.TABLE} rewound item by item, good writes kept") as r:
            self.console.print(
                f"  release {m.BAD_RELEASE} overwrites {m.OVERWRITES} orders and deletes {m.DELETES} within a "
                f"second; {m.GOOD_RELEASE} writes {m.GOOD} other orders meanwhile and {m.LATER} of the bad ones "
                "after it"
            )
            self.console.print(
                f"  $ safetynet rewind -s prod --table {m.TABLE} --from T1 --to T2 --where '{m.FILTER}' --yes"
            )
            result, _ = m.rewind_step(Clients(self.region), cfg, bucket=bucket, topic_arn=self.alert_topic)
            self.console.print(
                f"  {result.reverted} orders back as before the release, {result.conflicts} written again after it "
                f"left as they are (conflicts), {result.good_writes_kept} good writes kept; "
                f"{result.mismatches} mismatches; audit in the vault"
            )
            figures = dict(result.figures())
            items, mismatches = figures.pop("items", 0), figures.pop("mismatches", 0)
            r.items = int(items)
            self.report.extra_figures.update(figures)
            self.report.mismatches += int(mismatches)
            if mismatches:
                raise DemoFailure(f"{mismatches} items differ after the rewind")
