"""Packaging of the `handlers/` task code for Lambda, shared by every component that deploys it.

The archive holds the `handlers` package (with its flow subpackages) and the `conventions`
package it imports, each under its own folder (so handler strings read
`handlers.<flow>.<module>.<function>` and the packages' own imports work), and nothing else: no
`__pycache__`, so the archive's hash changes only when the code does. boto3 comes with the Lambda
runtime; Powertools comes from AWS's public layer.

Everything else the handlers import (orjson for export lines, amazon-ion for Ion exports) is in
neither, so it ships as the stack's own dependency layer: the `lambda` dependency group of
uv.lock, installed from its hashed wheels for RUNTIME/ARCHITECTURE into build/lambda-layer by
`make layer` (part of `make setup`). Every function lists it after the Powertools layer.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

PROJECT_DIR = Path(__file__).resolve().parents[2]
HANDLERS_DIR = PROJECT_DIR / "handlers"
# What ships to Lambda: the task code and the names it shares with the rest of the program.
ARCHIVE_PACKAGES = ("handlers", "conventions")
# Built by `make layer`; its `python/` is what Lambda mounts at /opt/python (on sys.path). The
# Makefile's LAYER_PYTHON and LAYER_PLATFORM must match RUNTIME and ARCHITECTURE
# (tests/components/common/test_lambda_package.py checks the built wheels' tags against them).
LAYER_DIR = PROJECT_DIR / "build" / "lambda-layer"
RUNTIME = "python3.12"
ARCHITECTURE = "x86_64"
# Powertools for AWS Lambda (Python) v3, published by AWS in every commercial region.
POWERTOOLS_LAYER = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27"


def package_files(package_dir: Path) -> list[Path]:
    """The `.py` files of a package and its subpackages, sorted (a stable archive), never
    `__pycache__`."""
    return sorted(p for p in package_dir.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)


def handler_files(handlers_dir: Path = HANDLERS_DIR) -> list[Path]:
    """The handlers package's files."""
    return package_files(handlers_dir)


def archive_files(project_dir: Path = PROJECT_DIR) -> dict[str, Path]:
    """Every file of the code archive: its path in the archive -> the file."""
    return {
        p.relative_to(project_dir).as_posix(): p
        for package in ARCHIVE_PACKAGES
        for p in package_files(project_dir / package)
    }


def handlers_archive(extra_files: dict[str, str] | None = None) -> pulumi.AssetArchive:
    """The Lambda code archive (ARCHIVE_PACKAGES), plus `extra_files` (path under `handlers/`
    -> text): data that must deploy together with the code that reads it."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        name: pulumi.FileAsset(str(p)) for name, p in archive_files().items()
    }
    for name, text in (extra_files or {}).items():
        assets[f"handlers/{name}"] = pulumi.StringAsset(text)
    return pulumi.AssetArchive(assets)


def powertools_layer(region: str) -> str:
    """The Powertools layer ARN of a region."""
    return POWERTOOLS_LAYER.format(region=region)


class DependencyLayerMissingError(pulumi.RunError):
    """build/lambda-layer was not built: the program stops before declaring anything."""


def dependency_layer_archive(layer_dir: Path | None = None) -> pulumi.FileArchive:
    """The built dependency layer (default LAYER_DIR) as a Lambda layer archive. Raises
    DependencyLayerMissingError, naming the command that builds it, when it is missing."""
    layer_dir = layer_dir or LAYER_DIR
    if not any((layer_dir / "python").glob("*.dist-info")):
        shown = layer_dir.relative_to(PROJECT_DIR) if layer_dir.is_relative_to(PROJECT_DIR) else layer_dir
        raise DependencyLayerMissingError(
            f"{shown} is missing: run `make layer` (it installs uv.lock's `lambda` dependency group "
            f"for {RUNTIME} {ARCHITECTURE}; `make setup` does it too)"
        )
    return pulumi.FileArchive(str(layer_dir))


def dependency_layer(environment: str, layer_dir: Path | None = None) -> aws.lambda_.LayerVersion:
    """The stack's one dependency layer, shared by all of its functions. Call it before declaring
    anything else: without a built layer the program then fails with nothing declared."""
    return aws.lambda_.LayerVersion(
        "lambda-deps",
        layer_name=f"safetynet-{environment}-lambda-deps",
        description="safetynet: the Lambda dependency group of uv.lock (orjson, amazon-ion)",
        code=dependency_layer_archive(layer_dir),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
    )
