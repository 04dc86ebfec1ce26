"""Uses the whole public API with types; `mypy --strict` must accept it (tests/test_sdk.py)."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional

import heimdall
from heimdall import (
    AllocatedResource,
    FileContent,
    FileEntry,
    FileResult,
    GitHubScanner,
    HeimdallResourceManager,
    OrgPatterns,
    RepoMetadata,
    ScanProgress,
    ScanStatus,
)


def on_progress(progress: ScanProgress) -> None:
    print(progress.event, progress.repo, progress.done, progress.total)


async def main() -> None:
    scanner = GitHubScanner(token=None, api_url=None, cache_dir=None)
    codex: Dict[str, Any] = await scanner.scan_organization(
        "acme", file_patterns=["*.toml"], cache_days=7, parallel_requests=5, language="Python",
        min_stars=1, pushed_within=timedelta(days=90), include_forks=False, include_archived=False,
        on_progress=on_progress,
    )
    cached: OrgPatterns = await scanner.get_cached_patterns("acme")
    again: Dict[str, Any] = await scanner.export_for_codex(cached)
    jsonl: Any = await scanner.export_patterns("acme", format="jsonl")
    status: Optional[ScanStatus] = await scanner.scan_status("acme")
    repos: List[RepoMetadata] = await scanner.list_org_repos("acme")
    tree: List[FileEntry] = await scanner.get_repo_tree("acme", "api", ref="main")
    content: FileContent = await scanner.get_file_content("acme", "api", "pyproject.toml")
    found: List[FileResult] = await scanner.get_files_by_pattern("acme", ["**/*.toml"])
    print(codex == again, jsonl, status and status.finished_at, [r.stars for r in repos],
          [e.size for e in tree], content.text, [f.size for f in found])

    rm = HeimdallResourceManager(cache_dir=None, client_id="python")
    path: Path = await rm.allocate("acme/api", ttl_hours=24, hydrate=False)
    paths: Dict[str, Path] = await rm.allocate_many(["acme/web", "acme/api/**/*.py"])
    try:
        subprocess.run(["ruff", "check", path])
    finally:
        released: AllocatedResource = await rm.release(path)
        print(released.size_bytes)
    async with rm.allocated("acme/api@main/src") as src:
        print(list(src.iterdir()))
    listed: List[AllocatedResource] = rm.list()
    when: datetime = listed[0].allocated_at
    print(when, listed[0].is_expired, listed[0].last_accessed, paths)
    await rm.release_all()
    await rm.cleanup_expired()
    try:
        scanner.get_file_content_sync("acme", "api", "missing")
    except heimdall.RateLimitedError as error:
        reset: Optional[datetime] = error.reset_at
        print(reset)
    except heimdall.HeimdallError as error:
        print(error)


if __name__ == "__main__":
    asyncio.run(main())
