"""The local AWS: `safetynet demo`, its emulator (moto), and how the CLI tells it is talking to one."""

from __future__ import annotations

import os


def emulated(service: str) -> bool:
    """True when boto3 sends `service`'s calls to an emulator, not AWS: AWS_ENDPOINT_URL or
    AWS_ENDPOINT_URL_<SERVICE> is set (the CLI's root `--endpoint-url` sets the former)."""
    return bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}"))
