"""Heimdall for Python: scan GitHub organizations and mount repositories as local paths,
through the same cache and per-user daemon as the ``heimdall`` CLI.

>>> from heimdall import GitHubScanner, HeimdallResourceManager  # doctest: +SKIP

Every coroutine has a blocking twin named ``<name>_sync``; errors are
:class:`HeimdallError` and its subclasses.
"""

from ._errors import (
    AuthError,
    HeimdallError,
    InvalidPathError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
)
from ._native import __version__
from ._types import (
    AllocatedResource,
    FailedRepo,
    FileContent,
    FileEntry,
    FileResult,
    OrgPatterns,
    RepoMetadata,
    ScanProgress,
    ScanStatus,
)
from .resources import HeimdallResourceManager
from .scanner import ExportFormat, GitHubScanner

__all__ = [
    "GitHubScanner",
    "HeimdallResourceManager",
    "HeimdallError",
    "NotFoundError",
    "RateLimitedError",
    "AuthError",
    "OfflineError",
    "InvalidPathError",
    "AllocatedResource",
    "FailedRepo",
    "FileContent",
    "FileEntry",
    "FileResult",
    "OrgPatterns",
    "RepoMetadata",
    "ScanProgress",
    "ScanStatus",
    "ExportFormat",
    "__version__",
]
