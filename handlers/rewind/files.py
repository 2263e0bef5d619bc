"""One data file of a window's export, rewound: the unit a Step Functions Distributed Map child
runs (one child per data file), and what the CLI runs for each file in turn.

The export must have passed validation (`handlers.exports`) first: the file's lines are read
without re-checking every value (its MD5 and line count are still checked while streaming).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from handlers.exports.incremental import iter_file_changes
from handlers.exports.layout import DataFile, ExportRef
from handlers.rewind.apply import DEFAULT_CONCURRENCY, Applier, KeyResult, run_changes
from handlers.rewind.audit import OutcomeLog, RunLocation, part_name
from handlers.rewind.plan import RewindSpec
from handlers.rewind.tally import Tally

YOUNG_GENERATION = 5000
"""Container objects allocated between young collections while a file is rewound (CPython's
default is 700): a few chunks' worth (`apply.CHUNK` changes of a few dozen dicts and lists each)."""


@contextmanager
def _collector_tuned() -> Iterator[None]:
    """Run the cyclic garbage collector for the rewind's allocation pattern while a file is
    rewound, and restore it after. Each chunk of changes holds a thousand or more containers for a
    moment: with the default young threshold they outlive young collections, are promoted, and
    trigger full ones that walk the whole heap (modules, clients) - about a fifth of the rewind's
    CPU time in `bench/rewind.py`. So the objects alive before the file are frozen (left out of
    the passes; `gc.unfreeze` gives them back after) and the young generation holds a few
    chunks. Memory stays bounded: reference counting still frees every object at once, and
    garbage cycles are still collected (young ones after at most YOUNG_GENERATION allocations,
    cycles among the frozen objects after `unfreeze`)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG_GENERATION), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def rewind_data_file(
    ddb: Any,
    s3: Any,
    ref: ExportRef,
    data_file: DataFile,
    spec: RewindSpec,
    *,
    table: str,
    dry_run: bool,
    run: RunLocation | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_result: Callable[[KeyResult], None] | None = None,
) -> Tally:
    """Settle every change of one data file against `table` and return its Tally. With `run`
    (and not a dry run) every key's outcome line goes to `run.outcomes_key(<file>)`, uploaded
    also when the file is interrupted (KeyboardInterrupt is re-raised after the upload)."""
    tally = Tally()
    log = OutcomeLog() if run is not None and not dry_run else None

    def record(result: KeyResult) -> None:
        tally.add(result)
        if log is not None:
            log.add(result)
        if on_result is not None:
            on_result(result)

    applier = Applier(ddb, table, spec, dry_run=dry_run)
    try:
        with _collector_tuned():
            run_changes(
                iter_file_changes(s3, ref, data_file, check=False), applier, on_result=record, concurrency=concurrency
            )
    finally:
        if log is not None and run is not None:
            log.upload(s3, run.bucket, run.outcomes_key(part_name(data_file.data_file_s3_key)))
    return tally
