"""What the API returns: plain dataclasses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

__all__ = [
    "RepoMetadata",
    "FileEntry",
    "FileContent",
    "FileResult",
    "ScanProgress",
    "FailedRepo",
    "ScanStatus",
    "AllocatedResource",
    "OrgPatterns",
]


def _utc(epoch: Optional[int]) -> Optional[datetime]:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


@dataclass(frozen=True)
class RepoMetadata:
    """A repository as GitHub lists it under its owner."""

    name: str
    full_name: Optional[str]
    default_branch: Optional[str]
    language: Optional[str]
    stars: int
    size_kb: int
    pushed_at: Optional[str]
    private: bool
    fork: bool
    archived: bool
    topics: List[str]
    description: Optional[str]
    license: Optional[str]
    #: Every field GitHub sent that Heimdall keeps.
    raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def _from_json(cls, row: Dict[str, Any]) -> "RepoMetadata":
        license = row.get("license") or {}
        return cls(
            name=row["name"],
            full_name=row.get("full_name"),
            default_branch=row.get("default_branch"),
            language=row.get("language"),
            stars=int(row.get("stargazers_count") or 0),
            size_kb=int(row.get("size") or 0),
            pushed_at=row.get("pushed_at"),
            private=bool(row.get("private")),
            fork=bool(row.get("fork")),
            archived=bool(row.get("archived")),
            topics=list(row.get("topics") or []),
            description=row.get("description"),
            license=license.get("spdx_id"),
            raw=row,
        )


@dataclass(frozen=True)
class FileEntry:
    """One entry of a repository's tree, like a line of ``git ls-tree -r -t -l``."""

    path: str
    #: Git's mode: ``100644``, ``100755``, ``120000``, ``160000`` or ``040000``.
    mode: str
    #: ``file``, ``executable``, ``symlink``, ``submodule`` or ``tree``.
    type: str
    sha: str
    #: Bytes, for blobs (0 for trees and submodules).
    size: int


@dataclass(frozen=True)
class FileContent:
    """One file's bytes, verified against its git blob id."""

    path: str
    sha: str
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Bytes."""
        return len(self.content)

    @property
    def text(self) -> str:
        """The content decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class FileResult:
    """A file that matched a glob in one of an organization's repositories."""

    repository: str
    path: str
    sha: str
    #: ``file``, ``executable`` or ``symlink``.
    type: str
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Bytes."""
        return len(self.content)

    @property
    def text(self) -> str:
        """The content decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class ScanProgress:
    """A step of a scan: ``event`` is ``started`` (``total`` known) or ``repo`` (one
    repository done: scanned, reused from cache, or failed with ``error``)."""

    event: str
    total: int
    done: int = 0
    repo: Optional[str] = None
    cached: bool = False
    error: Optional[str] = None
    requests: int = 0
    rate_limit_remaining: Optional[int] = None
    resumed: bool = False
    offline: bool = False

    @classmethod
    def _from_json(cls, row: Dict[str, Any]) -> "ScanProgress":
        return cls(
            event=row["event"],
            total=int(row.get("total") or 0),
            done=int(row.get("done") or 0),
            repo=row.get("repo"),
            cached=bool(row.get("cached")),
            error=row.get("error"),
            requests=int(row.get("requests") or 0),
            rate_limit_remaining=row.get("rate_limit_remaining"),
            resumed=bool(row.get("resumed")),
            offline=bool(row.get("offline")),
        )


@dataclass(frozen=True)
class FailedRepo:
    """A repository the scan could not scan, and why."""

    repo: str
    reason: str


@dataclass(frozen=True)
class ScanStatus:
    """An organization's latest scan (``heimdall github scan-status``)."""

    organization: str
    #: ``running`` (or interrupted: the next scan resumes it) or ``finished``.
    state: str
    run: int
    repos_total: int
    repos_done: int
    repos_failed: int
    failed: List[FailedRepo]
    parse_errors: Dict[str, List[str]]
    started_at: datetime
    finished_at: Optional[datetime]
    requests_used: int
    cache_hit_rate: float
    rate_limit_remaining: Optional[int]
    offline: bool

    @classmethod
    def _from_json(cls, row: Dict[str, Any]) -> "ScanStatus":
        started = _utc(row["started_at"])
        assert started is not None
        return cls(
            organization=row["organization"],
            state=row["state"],
            run=int(row["run"]),
            repos_total=int(row["repos_total"]),
            repos_done=int(row["repos_done"]),
            repos_failed=int(row["repos_failed"]),
            failed=[FailedRepo(f["repo"], f["reason"]) for f in row.get("failed", [])],
            parse_errors={k: list(v) for k, v in row.get("parse_errors", {}).items()},
            started_at=started,
            finished_at=_utc(row.get("finished_at")),
            requests_used=int(row["requests_used"]),
            cache_hit_rate=float(row["cache_hit_rate"]),
            rate_limit_remaining=row.get("rate_limit_remaining"),
            offline=bool(row["offline"]),
        )


@dataclass(frozen=True)
class AllocatedResource:
    """A live allocation: a mounted repository, path or glob with a TTL."""

    github_path: str
    local_path: Path
    size_bytes: int
    files: int
    commit: str
    allocated_at: datetime
    last_accessed: Optional[datetime]
    ttl_seconds: int
    client_id: str

    @property
    def is_expired(self) -> bool:
        """Past its TTL (the daemon's cleaner releases it soon)."""
        return time.time() >= self.allocated_at.timestamp() + self.ttl_seconds

    @classmethod
    def _from_json(cls, row: Dict[str, Any]) -> "AllocatedResource":
        allocated = _utc(row["created_at"])
        assert allocated is not None
        return cls(
            github_path=row["resource"],
            local_path=Path(row["path"]),
            size_bytes=int(row["bytes"]),
            files=int(row["files"]),
            commit=row["commit"],
            allocated_at=allocated,
            last_accessed=_utc(row.get("last_access")),
            ttl_seconds=int(row["ttl_secs"]),
            client_id=row["client"],
        )


class OrgPatterns(Dict[str, Dict[str, Any]]):
    """An organization's stored per-repository patterns, ``{repo: patterns}``
    (:meth:`heimdall.GitHubScanner.get_cached_patterns`); knows its organization, so
    :meth:`heimdall.GitHubScanner.export_for_codex` can aggregate it."""

    def __init__(self, organization: str, repos: Dict[str, Dict[str, Any]]) -> None:
        super().__init__(repos)
        self.organization = organization
