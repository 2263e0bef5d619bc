"""Packaging of the `handlers/` task code for Lambda, shared by every component that deploys it.

The archive holds `handlers/*.py` under `handlers/` (so handler strings read
`handlers.<module>.<function>` and the package's own imports work), and nothing else: no
`__pycache__`, so the archive's hash changes only when the code does. boto3 comes with the Lambda
runtime; Powertools comes from AWS's public layer.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
RUNTIME = "python3.12"
ARCHITECTURE = "x86_64"
# Powertools for AWS Lambda (Python) v3, published by AWS in every commercial region.
POWERTOOLS_LAYER = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27"


def handler_files(handlers_dir: Path = HANDLERS_DIR) -> list[Path]:
    """The files that go into the archive, sorted (a stable archive)."""
    return sorted(p for p in handlers_dir.glob("*.py") if p.is_file())


def handlers_archive(
    handlers_dir: Path = HANDLERS_DIR, extra_files: dict[str, str] | None = None
) -> pulumi.AssetArchive:
    """`handlers/*.py` as a Lambda code archive, plus `extra_files` (name -> text) under
    `handlers/`: data that must deploy together with the code that reads it."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        f"handlers/{p.name}": pulumi.FileAsset(str(p)) for p in handler_files(handlers_dir)
    }
    for name, text in (extra_files or {}).items():
        assets[f"handlers/{name}"] = pulumi.StringAsset(text)
    return pulumi.AssetArchive(assets)


def powertools_layer(region: str) -> str:
    """The Powertools layer ARN of a region."""
    return POWERTOOLS_LAYER.format(region=region)
