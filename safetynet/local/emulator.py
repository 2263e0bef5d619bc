"""An embedded AWS emulator (moto's server, in this process, on 127.0.0.1 and a free port).

Used by `safetynet demo` and by end-to-end tests: every boto3 client created while it runs
goes to it through AWS_ENDPOINT_URL, with throwaway credentials. Nothing else is reached.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DEMO_REGION = "eu-central-1"
DEMO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}


@dataclass(frozen=True)
class Emulator:
    """Where the emulator listens and how to reach it."""

    endpoint_url: str
    region: str

    def env(self) -> dict[str, str]:
        """The environment a shell needs to use it (`export` these)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **DEMO_CREDENTIALS,
        }


@contextmanager
def running_emulator(region: str = DEMO_REGION) -> Iterator[Emulator]:
    """Start moto's server on 127.0.0.1:<free port>, point this process's AWS config at it,
    and restore the environment and stop the server afterwards."""
    import logging

    from moto.server import ThreadedMotoServer

    from safetynet.local import moto_compat

    moto_compat.apply()
    # werkzeug logs every request at INFO; the demo narrates its own steps.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    emu = Emulator(endpoint_url=f"http://{host}:{port}", region=region)
    saved = {k: os.environ.get(k) for k in [*emu.env(), "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(emu.env())
    try:
        yield emu
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
