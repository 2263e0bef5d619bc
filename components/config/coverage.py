"""`safetynet:coverage`: the tables of the account that are knowingly left without safetynet.

`safetynet coverage -s <stack>` puts every table of the account and region in one category:
protected by the stack, degraded (the stack's, but a check fails), excluded on purpose, or
unprotected. A table is excluded when its name matches one of these patterns; the reason is
shown beside it, so an exclusion is a decision someone wrote down, never a silent gap:

    safetynet:coverage:
      exclude:
        - pattern: "*-test"
          reason: the test stack's staging targets, refilled from prod's exports every night
        - pattern: etl-scratch-*
          reason: scratch tables of the nightly ETL, rebuilt from S3 on every run

Patterns are fnmatch patterns over physical table names (`*`, `?`, `[abc]`, `[!abc]`), matched
case-sensitively, as DynamoDB names are. The stack's own tables are always judged as the stack's,
whatever pattern matches them. Like every config module this one imports no Pulumi.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase, translate

from pydantic import Field, field_validator

from components.config.base import ConfigModel

# Table names are a-z A-Z 0-9 _ - . ; a pattern adds fnmatch's * ? [ ] !.
_PATTERN_CHARS_RE = re.compile(r"^[a-zA-Z0-9_.\-*?\[\]!]+$")
_CHAR_CLASS_RE = re.compile(r"\[[^\[\]]+\]")  # good enough to tell a pattern from pure wildcards
MAX_PATTERN_LENGTH = 255


class ExcludeRule(ConfigModel):
    """One exclusion: the tables whose names match `pattern` need no safetynet, for `reason`."""

    pattern: str = Field(description="fnmatch pattern over physical table names (* ? [abc] [!abc]), case-sensitive.")
    reason: str = Field(description="Why these tables need no backup; shown beside each of them.")

    def matches(self, table_name: str) -> bool:
        """Whether the pattern matches the physical table name (case-sensitive, like DynamoDB)."""
        return fnmatchcase(table_name, self.pattern)

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        if not v:
            raise ValueError("an empty pattern matches no table; write e.g. 'etl-scratch-*'")
        if len(v) > MAX_PATTERN_LENGTH:
            raise ValueError(f"a pattern is at most {MAX_PATTERN_LENGTH} characters (a table name's limit)")
        if not _PATTERN_CHARS_RE.match(v):
            raise ValueError(
                f"'{v}' can never match a table name: names are a-z A-Z 0-9 _ - . and a pattern adds * ? [abc] [!abc]"
            )
        # fnmatch reads a [ or ] outside a character class literally, and no table name has one.
        if "\\[" in translate(v) or "\\]" in translate(v):
            raise ValueError(f"'{v}' has an unclosed [ or a stray ]: write a character class as [abc] or [!abc]")
        if not _CHAR_CLASS_RE.sub("x", v).replace("*", "").replace("?", ""):
            raise ValueError(
                f"'{v}' matches every table and would leave the whole account unjudged; name the "
                "tables it stands for, e.g. 'etl-scratch-*'"
            )
        return v

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        if not v:
            raise ValueError(
                "say why these tables need no backup, e.g. 'scratch tables of the nightly ETL, rebuilt from S3'"
            )
        return v


class CoverageSpec(ConfigModel):
    """`safetynet:coverage`: what `safetynet coverage` may report as excluded instead of unprotected."""

    exclude: list[ExcludeRule] = Field(
        default_factory=list,
        description="Tables knowingly left without safetynet: {pattern, reason}; the first match applies.",
    )

    def exclusion_for(self, table_name: str) -> ExcludeRule | None:
        """The first rule whose pattern matches the physical table name, or None."""
        return next((rule for rule in self.exclude if rule.matches(table_name)), None)

    @field_validator("exclude")
    @classmethod
    def _unique(cls, v: list[ExcludeRule]) -> list[ExcludeRule]:
        patterns = [r.pattern for r in v]
        dup = sorted({p for p in patterns if patterns.count(p) > 1})
        if dup:
            raise ValueError(f"pattern listed more than once: {', '.join(dup)}; one entry (one reason) per pattern")
        return v
