"""Rewind: undo a window's writes item by item from its incremental export, keeping every write
made after it (`safetynet rewind`; the same code per data file in a Distributed Map child).

- `plan`        kinds and outcomes, the window, what is left alone (pure)
- `filters`     the `--where` language
- `images`      items compared as DynamoDB compares them, keys, attribute diffs
- `conditions`  the condition that makes each write atomic with its check, within AWS's limits
- `apply`       reading live items and writing the undo, chunk by chunk, with bounded concurrency
- `tally`       counts and samples for the plan and the summary
- `audit`       the trail in the vault, `recent_rewinds`
- `files`       one data file, end to end (the Distributed Map's unit)
- `entrypoints` the rewind state machine's task: prepare, one data file, a child's problem, the summary
"""

from __future__ import annotations

from handlers.rewind.apply import Applier, KeyResult, run_changes
from handlers.rewind.audit import RunLocation, new_run_id, notify, recent_rewinds, window_id
from handlers.rewind.files import rewind_data_file
from handlers.rewind.filters import Filter, FilterError, parse_filter
from handlers.rewind.plan import Kind, Outcome, RewindSpec, Window
from handlers.rewind.tally import Tally

__all__ = [
    "Applier",
    "Filter",
    "FilterError",
    "KeyResult",
    "Kind",
    "Outcome",
    "RewindSpec",
    "RunLocation",
    "Tally",
    "Window",
    "new_run_id",
    "notify",
    "parse_filter",
    "recent_rewinds",
    "rewind_data_file",
    "run_changes",
    "window_id",
]
