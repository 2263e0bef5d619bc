"""Staging work bounded per data file, so the state machine stays within Lambda's limits
whatever the export's size: one data file checked by one Distributed Map child, and the verify
sample drawn from a few data files instead of the whole export.

The local flow (`safetynet.staging.flow`, `safetynet stage`) is not bound by Lambda's limits and
keeps reading everything in one process.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

from aws_lambda_powertools import Logger

from handlers import exports
from handlers.staging.exceptions import ExportRejected
from handlers.staging.fit import KeySchema, check_data_file
from handlers.staging.ledger import record_problems

logger = Logger(service="safetynet-staging", child=True)

SAMPLE_FILES = 8
"""Data files the state machine's verify step reads (see `sample_source`)."""


def validate_data_file(
    s3: Any,
    ddb: Any,
    *,
    ledger: str,
    table: str,
    ref: exports.ExportRef,
    data_file: exports.DataFile,
    output_format: str,
    keys: KeySchema | None = None,
) -> exports.FileCheck:
    """Check one data file completely (existence, gzip, MD5, item count, every item's syntax and,
    with `keys`, that every item fits the test table's key schema). A damaged file's problems go
    to the ledger record of this (table, export) first - the failed Distributed Map only says its
    failure threshold was exceeded - then ExportRejected lists them."""
    check = check_data_file(s3, ref, data_file, output_format=output_format, keys=keys)
    if check.ok:
        return check
    logger.warning({"message": "data file rejected", "file": check.key, "problems": check.problems})
    record_problems(ddb, ledger, table, ref.export_id, check.problems)
    raise ExportRejected(ref.url, check.problems)


def choose_sample_files(
    files: Sequence[exports.DataFile], seed: str, max_files: int = SAMPLE_FILES
) -> list[exports.DataFile]:
    """Up to `max_files` non-empty data files, chosen uniformly and deterministically for `seed`
    (the export id: a retried verify reads the same files), in manifest order."""
    candidates = [(i, f) for i, f in enumerate(files) if f.item_count > 0]
    rng = random.Random(f"{seed}/files")  # noqa: S311 (sampling, not cryptography)
    chosen = rng.sample(candidates, min(max_files, len(candidates)))
    return [f for _, f in sorted(chosen, key=lambda pair: pair[0])]


def sample_source(
    s3: Any, ref: exports.ExportRef, *, seed: str, max_files: int = SAMPLE_FILES
) -> Iterator[exports.Item]:
    """The items `verify_table` samples from in the state machine: every item of at most
    `max_files` data files chosen by `choose_sample_files`, so verify reads two manifests and
    at most `max_files` data files however large the export is (its count check still covers
    the whole table). Each chosen file is read through its MD5 check, so a damaged sampled file
    raises ExportCorrupt. A mismatch confined to files that were not chosen is not seen here:
    every file was validated before staging, and the count check covers missing or extra items."""
    summary = exports.read_summary(s3, ref)
    files = exports.read_data_files(s3, ref, summary)
    for data_file in choose_sample_files(files, seed, max_files):
        yield from exports.iter_file_items(s3, ref, data_file, output_format=summary.output_format, check_items=False)
