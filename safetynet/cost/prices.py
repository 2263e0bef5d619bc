"""The prices and assumptions `safetynet cost` estimates with: dated defaults, each with its
source, that a YAML or JSON file (`--prices FILE`) overrides key by key.

Every default price is a us-east-1 list price from `../shared/AWS-FACTS.md` "Prices" (checked
late 2026, `PRICES_AS_OF`); the S3 minimum storage durations are from the S3 User Guide. Other
regions cost more or less: a prices file with that region's figures (and its own `asOf`) makes the
estimate exact for it. A file names only what it changes:

    asOf: 2027-03-01
    pitrGbMonth: 0.25
    s3GbMonth:
      GLACIER_IR: 0.005
    assumptions:
      bytesPerWrite: 2048

Unknown keys and negative values are refused (`PriceFileError` names the key): a typo must never
fall back silently to a default.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

PRICES_AS_OF = date(2026, 11, 30)
"""When the default prices were last checked against AWS-FACTS.md "Prices"."""

FACTS = "AWS-FACTS.md Prices (us-east-1, late 2026)"
S3_GUIDE = "S3 User Guide, 'Comparing the Amazon S3 storage classes' (minimum storage duration)"


def _price(value: float | None, unit: str, source: str) -> Any:
    """A price field: its default, unit and source (read back by `price_sources`)."""
    return Field(default=value, ge=0, description=unit, json_schema_extra={"source": source})


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class S3StoragePrices(BaseModel):
    """USD per GB-month of each S3 storage class the vault's lifecycle can use. No default where
    AWS-FACTS.md lists no price: a stack whose `coldStorageClass` has none needs a prices file."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    STANDARD: float | None = _price(0.023, "USD per GB-month", f"{FACTS}: 'S3 Standard $0.023'")
    STANDARD_IA: float | None = _price(0.0125, "USD per GB-month", f"{FACTS}: 'Standard-IA $0.0125'")
    ONEZONE_IA: float | None = _price(None, "USD per GB-month", "not in AWS-FACTS.md: give it in a prices file")
    INTELLIGENT_TIERING: float | None = _price(
        None, "USD per GB-month", "not in AWS-FACTS.md: give it in a prices file"
    )
    GLACIER_IR: float | None = _price(0.004, "USD per GB-month", f"{FACTS}: 'Glacier Instant $0.004'")
    GLACIER: float | None = _price(0.0036, "USD per GB-month", f"{FACTS}: 'Glacier Flexible $0.0036'")
    DEEP_ARCHIVE: float | None = _price(0.00099, "USD per GB-month", f"{FACTS}: 'Deep Archive $0.00099'")


class S3MinimumDays(BaseModel):
    """Minimum storage duration of each class: an object deleted (or expired) earlier is billed
    for the whole minimum."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    STANDARD: int = Field(default=0, ge=0, json_schema_extra={"source": S3_GUIDE})
    STANDARD_IA: int = Field(default=30, ge=0, json_schema_extra={"source": S3_GUIDE})
    ONEZONE_IA: int = Field(default=30, ge=0, json_schema_extra={"source": S3_GUIDE})
    INTELLIGENT_TIERING: int = Field(default=30, ge=0, json_schema_extra={"source": S3_GUIDE})
    GLACIER_IR: int = Field(default=90, ge=0, json_schema_extra={"source": S3_GUIDE})
    GLACIER: int = Field(default=90, ge=0, json_schema_extra={"source": S3_GUIDE})
    DEEP_ARCHIVE: int = Field(default=180, ge=0, json_schema_extra={"source": S3_GUIDE})


class Assumptions(_Model):
    """What the estimate assumes where AWS publishes no number for this account's data."""

    bytes_per_write: float = Field(
        default=1024,
        gt=0,
        description="Bytes changed per write capacity unit: a standard write of up to 1 KB consumes one WCU, "
        "so 1,024 is an upper bound of the bytes behind a measured WCU (smaller items still consume one)",
    )
    export_size_ratio: float = Field(
        default=1.0,
        gt=0,
        description="Bytes an export stores in S3 per byte of table data (gzip-compressed DynamoDB JSON); "
        "1.0 is conservative: DynamoDB JSON's type wrappers grow the data, gzip shrinks it more",
    )


class PriceBook(_Model):
    """Every price the estimate uses, in USD; GB is 2^30 bytes, as AWS bills."""

    as_of: date = Field(default=PRICES_AS_OF, description="When these prices were checked.")
    pitr_gb_month: float = _price(0.20, "USD per GB-month of table size", f"{FACTS}: 'PITR $0.20/GB-month'")
    backup_gb_month: float = _price(
        0.10,
        "USD per GB-month of each backup (on-demand; AWS Backup warm storage for DynamoDB)",
        f"{FACTS}: 'on-demand backup $0.10/GB-month', 'AWS Backup for DynamoDB: warm storage at the "
        "DynamoDB backup price'",
    )
    export_gb: float = _price(0.10, "USD per GB of table size per full export", f"{FACTS}: 'export to S3 $0.10/GB'")
    incremental_export_gb: float = _price(
        0.10,
        "USD per GB processed per incremental export",
        f"{FACTS}: 'export to S3 $0.10/GB (incremental: per GB processed, 10 MB minimum)'",
    )
    incremental_export_minimum_mb: float = _price(
        10, "MB billed at least per incremental export", f"{FACTS}: '10 MB minimum'"
    )
    replication_transfer_gb: float = _price(
        0.02, "USD per GB replicated to another region", f"{FACTS}: 'cross-region replication transfer $0.02/GB'"
    )
    replication_time_control_gb: float | None = _price(
        None,
        "USD per GB replicated with S3 Replication Time Control",
        "not in AWS-FACTS.md: give it in a prices file for a replica with replicationTimeControl",
    )
    s3_gb_month: S3StoragePrices = Field(default_factory=S3StoragePrices, alias="s3GbMonth")
    s3_minimum_days: S3MinimumDays = Field(default_factory=S3MinimumDays, alias="s3MinimumDays")
    assumptions: Assumptions = Field(default_factory=Assumptions)

    def storage_price(self, storage_class: str) -> float | None:
        """USD per GB-month of an S3 storage class (None: no price known)."""
        value: float | None = getattr(self.s3_gb_month, storage_class, None)
        return value

    def minimum_days(self, storage_class: str) -> int:
        """The class's minimum storage duration in days (0 for Standard)."""
        return int(getattr(self.s3_minimum_days, storage_class, 0))


DEFAULT_PRICES = PriceBook()


class PriceFileError(ValueError):
    """A prices file that cannot be used: the message names the file and each key at fault."""


def load_prices(path: Path) -> PriceBook:
    """The defaults with `path`'s values over them (YAML or JSON). Unknown keys and negative or
    malformed values raise PriceFileError naming each key."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        raw = YAML(typ="safe", pure=True).load(path.read_text())
    except OSError as exc:
        raise PriceFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except YAMLError as exc:
        raise PriceFileError(f"{path}: not valid YAML or JSON ({exc})") from None
    if raw is None:
        return DEFAULT_PRICES
    if not isinstance(raw, dict):
        raise PriceFileError(f"{path}: expected a mapping of price keys (e.g. pitrGbMonth: 0.2)")
    try:
        return PriceBook.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors(include_url=False)]
        raise PriceFileError(f"{path}: " + "; ".join(problems)) from None


def _problem(error: Any) -> str:
    """`key.path: what is wrong` for one pydantic error."""
    key = ".".join(str(p) for p in error["loc"]) or "(file)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (see `safetynet cost --help` for the keys)"
    return f"{key}: {error['msg']} (got {error.get('input')!r})"


def price_sources(book: PriceBook = DEFAULT_PRICES) -> list[tuple[str, Any, str]]:
    """(key, value, source) of every price in `book`, the file keys as a prices file spells them."""
    rows: list[tuple[str, Any, str]] = []
    for name, field in PriceBook.model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and "source" in extra:
            rows.append((field.alias or name, getattr(book, name), str(extra["source"])))
    for group, model in (("s3GbMonth", book.s3_gb_month), ("s3MinimumDays", book.s3_minimum_days)):
        for name, field in type(model).model_fields.items():
            extra = field.json_schema_extra
            source = str(extra["source"]) if isinstance(extra, dict) else ""
            rows.append((f"{group}.{name}", getattr(model, name), source))
    return rows
