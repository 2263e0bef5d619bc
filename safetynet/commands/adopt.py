"""`safetynet adopt -s STACK --tag KEY=VALUE ...`: bring existing tables under the stack.

Reads the tables of the account in the stack's region (`aws:region` of `Pulumi.<stack>.yaml`),
picks them by tag, name prefix or exact name (minus --exclude patterns), and appends one
`safetynet:tables` entry per table to the stack file: its live settings, `adopt: true`, and under
`asFound` the protection settings the stack would otherwise change. The next `pulumi up` imports
each table with no difference and replaces nothing; deleting `asFound` (a second `pulumi up`) turns
the protection on. Comments and the other entries of the file stay as they were.

Tables already in the stack, global tables and tables the entry cannot describe exactly are
reported with the reason and never written. Exit 0 when done (or nothing was new), 1 for AWS
errors or a declined confirmation, 2 for usage and config errors (nothing selected included).
Reads only: ListTables, DescribeTable, ListTagsOfResource, DescribeTimeToLive,
DescribeContinuousBackups.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from safetynet.commands.common import (
    Clients,
    JsonOption,
    ProjectDirOption,
    StackArgument,
    StackOption,
    YesOption,
    aws_error_code,
    aws_error_text,
    confirm,
    emit_json,
    fail,
    resolve_stack,
)

COMMAND = "adopt"
TABLES_KEY = "safetynet:tables"
READ_ACTIONS = (
    "dynamodb:ListTables, DescribeTable, ListTagsOfResource, DescribeTimeToLive and DescribeContinuousBackups"
)
STYLES = {"adopt": "green", "present": "dim", "excluded": "cyan", "replica": "yellow", "unrepresentable": "red"}
MAX_SELECTOR_TEXT = 100  # in the comment above the entries: many --table names would make it unreadable
NEEDS = READ_ACTIONS
LABELS = {
    "adopt": "adopt",
    "present": "in stack",
    "excluded": "excluded",
    "replica": "global table",
    "unrepresentable": "cannot adopt",
}


def adopt(
    stack_arg: StackArgument = None,
    stack_opt: StackOption = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="KEY=VALUE the table must carry (repeatable: all must match).")
    ] = None,
    prefix: Annotated[list[str] | None, typer.Option("--prefix", help="Table name prefix (repeatable).")] = None,
    table: Annotated[list[str] | None, typer.Option("--table", help="Exact table name (repeatable).")] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="fnmatch pattern of names to leave out (repeatable).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the entries; change nothing.")] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Write existing tables into the stack file, with their live settings, for Pulumi to import."""
    from safetynet.paths import default_project_dir

    stack = resolve_stack(COMMAND, stack_arg, stack_opt)
    selector = _selector(tag, prefix, table, exclude)
    if as_json and not (yes or dry_run):
        raise fail(COMMAND, "--json needs --yes or --dry-run: a script cannot answer the confirmation")
    project = (project_dir or default_project_dir()).resolve()
    path = project / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise fail(COMMAND, f"{path} not found; pass --project-dir or choose another stack")
    original = path.read_bytes()
    doc = _load_doc(path)
    view, region = _stack_view(project, stack, doc)
    plan = _plan(view, selector, Clients(region), progress=not as_json)
    if not plan.outcomes:
        raise fail(
            COMMAND,
            f"no table in region {region} matches {selector.describe()}; nothing written "
            "(check the tag or prefix, and the stack's aws:region)",
        )
    if not as_json:
        Console().print(_table(plan))
    text = _new_text(doc, plan, selector) if plan.adopted else None
    written = False
    if text is not None:
        _check_config(project, stack, text)
    if text is not None and not dry_run:
        count = len(plan.adopted)
        confirm(COMMAND, f"Append {_tables(count)} to {path}?", yes=yes, unchanged="nothing written")
        _write(path, original, text)
        written = True
    if as_json:
        _print_json(stack, path, region, selector, plan, written=written, dry_run=dry_run)
        return
    _print_result(path, plan, dry_run=dry_run, written=written)


# -- input --------------------------------------------------------------------------------------


def _selector(
    tags: list[str] | None, prefixes: list[str] | None, names: list[str] | None, excludes: list[str] | None
) -> Any:
    from safetynet.coverage.adopt import Selector, parse_tag

    try:
        pairs = dict(parse_tag(t) for t in tags or [])
    except ValueError as exc:
        raise fail(COMMAND, str(exc)) from None
    selector = Selector(
        tags=pairs, prefixes=tuple(prefixes or ()), names=tuple(names or ()), excludes=tuple(excludes or ())
    )
    if selector.empty:
        raise fail(
            COMMAND,
            "choose the tables to adopt: --tag KEY=VALUE, --prefix or --table (all of the account: --prefix '')",
        )
    return selector


def _load_doc(path: Path) -> Any:
    """The stack file as a round-trip document; YAML that does not parse exits 2 with
    file:line:column."""
    from safetynet import stack_yaml

    try:
        doc = stack_yaml.load(path)
    except stack_yaml.StackFileError as exc:
        raise fail(COMMAND, f"{exc}; nothing written") from None
    tables = doc["config"].get(TABLES_KEY)
    if tables is not None and not isinstance(tables, list):
        line, _ = doc["config"].lc.key(TABLES_KEY)
        raise fail(COMMAND, f"{path}:{line + 1}: {TABLES_KEY} must be a list of tables; nothing written")
    return doc


def _stack_view(project: Path, stack: str, doc: Any) -> tuple[Any, str | None]:
    """The stack's config and region; config problems exit 2 naming the file and each line."""
    from components.config.base import ConfigError
    from components.config.loading import decode_pulumi_config, parse_stack_config
    from safetynet.coverage.adopt import StackView
    from safetynet.synth import SynthError, read_project, read_stack_config

    path = project / f"Pulumi.{stack}.yaml"
    try:
        flat, _ = read_stack_config(project, stack)
        cfg = parse_stack_config(decode_pulumi_config(flat))
        name = str(read_project(project).get("name", ""))
    except ConfigError as exc:
        raise fail(COMMAND, f"{path}: invalid safetynet config; nothing written:\n{_with_lines(doc, exc)}") from None
    except SynthError as exc:
        raise fail(COMMAND, str(exc)) from None
    if cfg.staging is not None:
        raise fail(
            COMMAND,
            f"stack {stack} is a test stack (safetynet:staging): its tables are staged from prod; adopt "
            "tables into the stack that backs them up (e.g. -s prod)",
        )
    return StackView(cfg=cfg, project=name, stack=stack), flat.get("aws:region")


def _with_lines(doc: Any, exc: Any) -> str:
    """Each problem of a ConfigError, prefixed with its line in the stack file where known."""
    from safetynet import stack_yaml

    out = []
    for problem in exc.problems:
        key = re.match(r"^([\w-]+:[\w.\[\]-]+):", problem)
        line = stack_yaml.line_of(doc, key.group(1)) if key else None
        out.append(f"  - line {line}: {problem}" if line else f"  - {problem}")
    return "\n".join(out)


# -- AWS ------------------------------------------------------------------------------------------


def _plan(view: Any, selector: Any, clients: Clients, *, progress: bool) -> Any:
    """Read the tables the selector can pick and plan each; AWS errors exit 1 with one paragraph."""
    from handlers.watch.aws import AWS_ERRORS
    from safetynet.coverage.adopt import plan_adoption
    from safetynet.coverage.inventory import TableReadError, list_table_names

    ddb = clients.get("dynamodb")
    region = clients.region or ddb.meta.region_name
    try:
        names = [n for n in list_table_names(ddb) if selector.by_name(n)]
        live = _read(ddb, names, progress=progress)
    except TableReadError as exc:
        raise fail(COMMAND, _aws_error(exc.cause, region, detail=str(exc)), code=1) from None
    except AWS_ERRORS as exc:
        raise fail(COMMAND, _aws_error(exc, region), code=1) from None
    return plan_adoption(live, view, selector)


def _read(ddb: Any, names: list[str], *, progress: bool) -> list[Any]:
    """Every named table (one deleted since ListTables is left out), with a progress bar on
    stderr when it is a terminal and there are many."""
    from rich.progress import Progress

    from safetynet.coverage.inventory import TableReadError, read_tables

    remaining = list(names)
    err = Console(stderr=True)
    while True:
        try:
            if not (progress and err.is_terminal and len(remaining) > 1):
                return read_tables(ddb, remaining)
            with Progress(console=err, transient=True) as bar:
                return read_tables(ddb, remaining, on_done=_advance(bar, len(remaining)))
        except TableReadError as exc:
            if aws_error_code(exc.cause) != "ResourceNotFoundException":
                raise
            remaining.remove(exc.table)


def _advance(bar: Any, total: int) -> Any:
    task = bar.add_task(f"reading {total} tables", total=total)
    return lambda _name: bar.advance(task)


# -- the file -------------------------------------------------------------------------------------


def _new_text(doc: Any, plan: Any, selector: Any) -> str:
    from safetynet import stack_yaml
    from safetynet.coverage.adopt import FLOW_KEYS

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    count = len(plan.adopted)
    picked = selector.describe()
    picked = picked if len(picked) <= MAX_SELECTOR_TEXT else picked[: MAX_SELECTOR_TEXT - 3] + "..."
    comment = (
        f"safetynet adopt {today}: {_tables(count).replace('table', 'existing table')} ({picked}), "
        "with their live settings; delete asFound to turn protection on"
    )
    stack_yaml.append_list_entries(doc, TABLES_KEY, plan.entries, comment=comment, flow_keys=FLOW_KEYS)
    return stack_yaml.dump(doc)


def _check_config(project: Path, stack: str, text: str) -> None:
    """Validate the new file as the program will read it, before it replaces the old one."""
    import tempfile

    from components.config.base import ConfigError
    from components.config.loading import decode_pulumi_config, parse_stack_config
    from safetynet.synth import read_stack_config

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        (tmp_dir / "Pulumi.yaml").write_text((project / "Pulumi.yaml").read_text())
        (tmp_dir / f"Pulumi.{stack}.yaml").write_text(text)
        try:
            parse_stack_config(decode_pulumi_config(read_stack_config(tmp_dir, stack)[0]))
        except ConfigError as exc:
            raise fail(
                COMMAND, f"the new entries would make the stack file invalid; nothing written:\n{exc}", 1
            ) from None


def _write(path: Path, original: bytes, text: str) -> None:
    """Replace the file in one step; refuse if it changed since it was read."""
    if path.read_bytes() != original:
        raise fail(COMMAND, f"{path} changed while adopt ran; nothing written, run again", 1)
    tmp = path.with_name(f".{path.name}.adopt")
    tmp.write_text(text)
    tmp.replace(path)


# -- output ---------------------------------------------------------------------------------------


def _print_result(path: Path, plan: Any, *, dry_run: bool, written: bool) -> None:
    from safetynet import stack_yaml
    from safetynet.coverage.adopt import FLOW_KEYS

    out = Console()
    adopted, skipped = plan.adopted, plan.skipped
    if not adopted:
        present = sum(1 for o in skipped if o.kind == "present")
        note = f"{present} already in the stack" if present == len(skipped) else "none can be adopted"
        out.print(f"Nothing to adopt: {note}; {escape(str(path))} unchanged.")
        return
    if dry_run:
        out.print(f"[bold]Would append to {escape(str(path))}[/] ({TABLES_KEY}), nothing written:")
        out.print(escape(stack_yaml.dump_fragment(plan.entries, flow_keys=FLOW_KEYS)), end="", highlight=False)
        return
    if written:
        kept = sum(1 for o in adopted if o.entry and "asFound" in o.entry)
        out.print(f"[green]Appended {_tables(len(adopted))}[/] to {escape(str(path))}.")
        out.print(
            "Next: review the diff (git diff), `pulumi preview` (expect "
            f"{len(adopted)} import{'s' if len(adopted) != 1 else ''} and no other change to them), `pulumi up`"
            + (f"; then delete asFound from the {_tables(kept)} that have it and `pulumi up` again" if kept else "")
            + "; `safetynet coverage` shows the result."
        )
    flagged = [o for o in adopted if o.policy]
    if flagged and (written or dry_run):
        rules = sorted({r for o in flagged for r in o.policy})
        out.print(
            f"[yellow]note:[/] as found, {_tables(len(flagged))} fail the mandatory rules {', '.join(rules)} "
            "(`safetynet synth --check`, the policy pack) until their asFound is deleted: see README "
            '"Bringing an existing account under safetynet".'
        )


def _tables(count: int) -> str:
    return f"{count} table{'s' if count != 1 else ''}"


def _table(plan: Any) -> Table:
    t = Table(title=f"{len(plan.outcomes)} tables selected", title_justify="left")
    for col in ("table", "name in stack", "", "why"):
        t.add_column(col, overflow="fold")
    for o in plan.outcomes:
        style = STYLES[o.kind]
        t.add_row(escape(o.table), escape(o.logical or ""), f"[{style}]{LABELS[o.kind]}[/]", escape(o.reason))
    return t


def _print_json(
    stack: str, path: Path, region: str | None, selector: Any, plan: Any, *, written: bool, dry_run: bool
) -> None:
    doc = {
        "stack": stack,
        "stackFile": str(path),
        "region": region,
        "dryRun": dry_run,
        "selector": {
            "tags": dict(selector.tags),
            "prefixes": list(selector.prefixes),
            "tables": list(selector.names),
            "excludes": list(selector.excludes),
        },
        "selected": [o.table for o in plan.outcomes],
        "adopted": [o.table for o in plan.adopted],
        "written": [o.table for o in plan.adopted] if written else [],
        "skipped": [o.to_json() for o in plan.skipped],
        "policyFindings": {o.table: o.policy for o in plan.adopted if o.policy},
        "entries": plan.entries,
    }
    # entries are stack-file entries, selector tags and policyFindings are keyed by data: as they are.
    emit_json(doc, keep=("entries", "tags", "policyFindings"))


def _aws_error(exc: BaseException, region: str | None, *, detail: str | None = None) -> str:
    return aws_error_text(exc, region, command="adopt", needs=READ_ACTIONS, unchanged="nothing written", detail=detail)
