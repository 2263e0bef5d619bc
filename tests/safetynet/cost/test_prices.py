"""Default prices carry their date and source; a prices file overrides them key by key, and an
unknown key or a negative price is refused naming the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from safetynet.cost.prices import DEFAULT_PRICES, PRICES_AS_OF, PriceFileError, load_prices, price_sources


def write(tmp_path: Path, text: str, name: str = "prices.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_default_price_names_its_source() -> None:
    rows = {key: (value, source) for key, value, source in price_sources()}
    assert rows["pitrGbMonth"] == (0.20, rows["pitrGbMonth"][1])
    assert "AWS-FACTS.md" in rows["pitrGbMonth"][1] and "$0.20/GB-month" in rows["pitrGbMonth"][1]
    assert rows["s3GbMonth.GLACIER_IR"][0] == 0.004
    assert rows["s3MinimumDays.DEEP_ARCHIVE"][0] == 180
    assert all(source for _key, _value, source in price_sources())
    assert DEFAULT_PRICES.as_of == PRICES_AS_OF


def test_a_yaml_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    book = load_prices(
        write(
            tmp_path,
            "asOf: 2027-03-01\npitrGbMonth: 0.25\n"
            "s3GbMonth:\n  GLACIER_IR: 0.005\nassumptions:\n  bytesPerWrite: 2048\n",
        )
    )
    assert book.as_of == date(2027, 3, 1)
    assert book.pitr_gb_month == 0.25
    assert book.storage_price("GLACIER_IR") == 0.005
    assert book.assumptions.bytes_per_write == 2048
    # everything else keeps its default
    assert book.export_gb == DEFAULT_PRICES.export_gb == 0.10
    assert book.storage_price("STANDARD") == 0.023
    assert book.minimum_days("GLACIER_IR") == 90
    assert book.assumptions.export_size_ratio == 1.0


def test_a_json_file_works_the_same(tmp_path: Path) -> None:
    book = load_prices(write(tmp_path, '{"exportGb": 0.11, "s3GbMonth": {"ONEZONE_IA": 0.01}}', "prices.json"))
    assert book.export_gb == 0.11
    assert book.storage_price("ONEZONE_IA") == 0.01


def test_an_empty_file_is_the_defaults(tmp_path: Path) -> None:
    assert load_prices(write(tmp_path, "")) == DEFAULT_PRICES


def test_an_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match=r"pitrGbMnth: unknown key"):
        load_prices(write(tmp_path, "pitrGbMnth: 0.25\n"))


def test_an_unknown_storage_class_is_named_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match=r"s3GbMonth\.GLACIER_FLEX: unknown key"):
        load_prices(write(tmp_path, "s3GbMonth:\n  GLACIER_FLEX: 0.0036\n"))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("pitrGbMonth: -0.2\n", "pitrGbMonth"),
        ("s3GbMonth:\n  STANDARD: -1\n", "s3GbMonth.STANDARD"),
        ("assumptions:\n  bytesPerWrite: 0\n", "assumptions.bytesPerWrite"),
    ],
)
def test_a_negative_or_zero_value_is_refused_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(PriceFileError) as err:
        load_prices(write(tmp_path, text))
    assert f"{key}: Input should be greater than" in str(err.value)
    assert str(tmp_path / "prices.yaml") in str(err.value)


def test_a_value_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match=r"exportGb: .*number.*'ten cents'"):
        load_prices(write(tmp_path, "exportGb: ten cents\n"))


def test_a_file_that_is_not_a_mapping_or_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="expected a mapping"):
        load_prices(write(tmp_path, "- 0.2\n"))
    with pytest.raises(PriceFileError, match="not valid YAML or JSON"):
        load_prices(write(tmp_path, "pitrGbMonth: [0.2\n"))
    with pytest.raises(PriceFileError, match="cannot be read"):
        load_prices(tmp_path / "missing.yaml")
