"""Exceptions: one class per kind of failure, with the CLI's one-line message."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from . import _native

__all__ = [
    "HeimdallError",
    "NotFoundError",
    "RateLimitedError",
    "AuthError",
    "OfflineError",
    "InvalidPathError",
]


class HeimdallError(Exception):
    """Any failure of Heimdall; ``str(error)`` is the CLI's one-line message."""


class NotFoundError(HeimdallError):
    """A repository, ref, path, owner, scan or allocation that does not exist (GitHub also
    answers "not found" for private repositories the token cannot see)."""


class RateLimitedError(HeimdallError):
    """GitHub's request budget is spent; it refills at :attr:`reset_at`."""

    def __init__(self, message: str, reset_at: Optional[datetime]) -> None:
        super().__init__(message)
        #: When the budget refills (UTC), if GitHub said.
        self.reset_at = reset_at


class AuthError(HeimdallError):
    """GitHub rejected the token (401), or it lacks the permission (403)."""


class OfflineError(HeimdallError):
    """GitHub could not be reached (and the cache does not hold the answer)."""


class InvalidPathError(HeimdallError):
    """Not a valid ``owner/repo[@ref][/path]`` or glob, or a directory where a file is
    needed (or the other way round)."""


class _Cancelled(Exception):
    """A native call stopped by its cancel token (becomes ``asyncio.CancelledError``)."""


def from_native(error: _native.NativeError) -> Exception:
    """The public exception for a ``NativeError(kind, message, reset_at)``."""
    kind, message, reset_at = error.args
    if kind == "cancelled":
        return _Cancelled(message)
    if kind == "rate_limited":
        when = datetime.fromtimestamp(reset_at, tz=timezone.utc) if reset_at else None
        return RateLimitedError(message, when)
    cls = {
        "not_found": NotFoundError,
        "auth": AuthError,
        "offline": OfflineError,
        "invalid_path": InvalidPathError,
    }.get(kind, HeimdallError)
    return cls(message)
