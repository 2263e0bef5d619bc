"""What the project's stack files declare for a test table, as `safetynet stage` needs it: which
stack stages into it, its name in config, its masking rules (`safetynet:staging.mask.<table>`),
the prod table whose exports it takes (`safetynet:staging.from` and the prod stack's table name),
and the stack's ledger (journal and last good export, `safetynet.staging.journal`).

The stack comes from `-s/--stack`, else from the table's `safetynet:staging-target` tag
(`<project>/<stack>`), else - a table a replace left without its tags, or gone - from the one stack
file of the project whose staging tables include the table's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.staging.fit import SourceCheck


class DeclarationError(Exception):
    """A stack file or its config that cannot be read; each problem names the file (and line and
    column for YAML) and what to fix. The CLI exits 2."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Declared:
    """A test table as its stack declares it."""

    stack: str
    """`<project>/<stack>`: the staging-target tag value."""
    stack_file: Path
    logical_name: str
    environment: str
    mask_rules: list[dict[str, Any]] = field(default_factory=list)
    """`[{path, action, value?}]` from `safetynet:staging.mask.<table>`."""
    source: SourceCheck = field(default_factory=SourceCheck)
    region: str | None = None
    needs_masking_key: bool = False

    @property
    def ledger(self) -> str:
        from components.staging.targets import ledger_table_name

        return ledger_table_name(self.environment)


def project_name(project_dir: Path) -> str:
    from safetynet.synth import SynthError, read_project

    try:
        return str(read_project(project_dir).get("name", ""))
    except SynthError as exc:
        raise DeclarationError([str(exc)]) from None


def split_stack(value: str, project: str) -> tuple[str, str]:
    """`test` or `safetynet/test` -> (project, stack)."""
    if "/" in value:
        owner, _, name = value.rpartition("/")
        return owner.rsplit("/", 1)[-1], name
    return project, value


def _config(project_dir: Path, stack: str) -> tuple[Any, str | None]:
    """The stack's parsed config and its aws:region; problems raise DeclarationError."""
    from components.config.base import ConfigError
    from components.config.loading import decode_pulumi_config, parse_stack_config
    from safetynet.synth import SynthError, read_stack_config

    try:
        flat, _ = read_stack_config(project_dir, stack)
        return parse_stack_config(decode_pulumi_config(flat)), flat.get("aws:region")
    except SynthError as exc:
        raise DeclarationError([str(exc)]) from None
    except ConfigError as exc:
        raise DeclarationError([f"{project_dir / f'Pulumi.{stack}.yaml'}: {p}" for p in exc.problems]) from None


def _prod_table_name(project_dir: Path, project: str, from_: str, logical: str) -> str:
    """The prod table's name: from the prod stack's file when this project has it, else prod's
    convention (the name in config)."""
    owner_project, prod_stack = from_.split("/")[-2:]
    if owner_project != project or not (project_dir / f"Pulumi.{prod_stack}.yaml").is_file():
        return logical
    try:
        cfg, _ = _config(project_dir, prod_stack)
    except DeclarationError:
        return logical  # prod's own file is prod's business; its default naming still applies
    spec = next((t for t in cfg.tables if t.name == logical), None)
    return str(cfg.physical_name(spec)) if spec is not None else logical


def declared_for(table: str, stack: str | None, project_dir: Path) -> Declared | None:
    """What `stack` (`<project>/<stack>` or a stack name; None: the stack file that declares the
    table) declares for `table`. None when no stack file of this project declares it as a staging
    target (another project's stack, a stack without `safetynet:staging`, an unknown table)."""
    project = project_name(project_dir)
    if stack is None:
        found = find_declaring_stack(table, project_dir)
        if found is None:
            return None
        stack = found
    owner, name = split_stack(stack, project)
    if owner != project or not (project_dir / f"Pulumi.{name}.yaml").is_file():
        return None
    cfg, region = _config(project_dir, name)
    if cfg.staging is None:
        return None
    spec = next((t for t in cfg.tables if cfg.physical_name(t) == table), None)
    if spec is None:
        return None
    rules = [
        {"path": r.path, "action": r.action, **({"value": r.value} if r.value is not None else {})}
        for r in cfg.staging.rules_for(spec.name)
    ]
    prod_name = _prod_table_name(project_dir, project, cfg.staging.from_, spec.name)
    stack_file = project_dir / f"Pulumi.{name}.yaml"
    return Declared(
        stack=f"{project}/{name}",
        stack_file=stack_file,
        logical_name=spec.name,
        environment=cfg.environment,
        mask_rules=rules,
        source=SourceCheck(
            table_name=prod_name,
            why=(
                f"{table} is the staging target of {prod_name} in {cfg.staging.from_} "
                f"({stack_file.name}: safetynet:staging.from and safetynet:tables {spec.name})"
            ),
        ),
        region=region,
        needs_masking_key=any(r["action"] in ("hash", "fake") for r in rules),
    )


def find_declaring_stack(table: str, project_dir: Path) -> str | None:
    """The stack (name) whose file declares `table` as a staging target; None when none does or
    several do. Files that cannot be read are skipped here (the search is a fallback)."""
    from safetynet.synth import SynthError, read_stack_config

    found = []
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi.") : -len(".yaml")]
        try:
            flat, _ = read_stack_config(project_dir, name)
        except SynthError:
            continue
        if not any(k.endswith(":staging") for k in flat):
            continue
        try:
            cfg, _ = _config(project_dir, name)
        except DeclarationError:
            continue
        if any(cfg.physical_name(t) == table for t in cfg.tables):
            found.append(name)
    return found[0] if len(found) == 1 else None


def source_for(
    table: str, declared: Declared | None, *, source_table_arn: str | None, allow_other_source: str | None
) -> SourceCheck:
    """Which table's exports may go into `table`: the one an option names, else the one its stack
    declares; raises DeclarationError when neither is known (or both options are given)."""
    from dataclasses import replace

    if source_table_arn and allow_other_source:
        raise DeclarationError(["pass either --source-table-arn or --allow-other-source, not both"])
    if source_table_arn:
        return SourceCheck(table_arn=source_table_arn, why="--source-table-arn")
    if allow_other_source:
        if allow_other_source.startswith("arn:"):
            return SourceCheck(table_arn=allow_other_source, why=f"--allow-other-source {allow_other_source}")
        return SourceCheck(table_name=allow_other_source, why=f"--allow-other-source {allow_other_source}")
    if declared is None:
        raise DeclarationError(
            [
                f"no stack file of this project declares {table} as a staging target, so the table whose exports it "
                "takes is unknown: pass -s/--stack or --project-dir, or name the source with --source-table-arn ARN "
                "or --allow-other-source TABLE"
            ]
        )
    return replace(declared.source, override="to stage it anyway, pass --allow-other-source <its table>")
