"""Interrupting a command at a chosen AWS call, as Ctrl-C or SIGTERM would (both arrive as
KeyboardInterrupt): `Interrupter` wraps the clients a command creates and raises KeyboardInterrupt
on the n-th call of one operation, before (default) or after the call reaches AWS."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Interrupter:
    """Raise KeyboardInterrupt at call number `at` of `service`.`operation`; `after`: once the call
    has completed (AWS did the work, the caller never heard of it)."""

    service: str
    operation: str
    at: int
    after: bool = False
    calls: int = 0
    fired: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wrap(self, service: str, client: Any) -> Any:
        return _Proxy(client, self) if service == self.service else client

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            fire = self.calls == self.at
        if fire and not self.after:
            self.fired = True
            raise KeyboardInterrupt
        result = method(*args, **kwargs)
        if fire:
            self.fired = True
            raise KeyboardInterrupt
        return result


class _Proxy:
    """A boto3 client whose one operation goes through the interrupter; everything else (meta,
    exceptions, paginators, other operations) is the client's own."""

    def __init__(self, client: Any, interrupter: Interrupter) -> None:
        self._client = client
        self._interrupter = interrupter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name != self._interrupter.operation:
            return attr
        return lambda *args, **kwargs: self._interrupter.call(attr, *args, **kwargs)


def interrupt_commands(monkeypatch: pytest.MonkeyPatch, interrupter: Interrupter) -> Interrupter:
    """Route the clients every command creates through `interrupter`: the one client factory
    (`handlers.clients.client`, which commands import when they run)."""
    import handlers.clients

    real_client = handlers.clients.client

    def client(service: str, region: str | None = None) -> Any:
        return interrupter.wrap(service, real_client(service, region))

    monkeypatch.setattr(handlers.clients, "client", client)
    return interrupter
