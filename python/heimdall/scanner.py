"""Organization scans and GitHub's content through Heimdall's cache."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from datetime import timedelta
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Union

from . import _native, _run
from ._types import FileContent, FileEntry, FileResult, OrgPatterns, RepoMetadata, ScanProgress, ScanStatus

__all__ = ["GitHubScanner", "ExportFormat"]

ExportFormat = Literal["codex", "json", "jsonl"]
ProgressCallback = Callable[[ScanProgress], Any]
PathLike = Union[str, "os.PathLike[str]"]


def _seconds(within: Union[timedelta, int, float, None]) -> Optional[int]:
    if within is None:
        return None
    if isinstance(within, timedelta):
        return max(0, int(within.total_seconds()))
    return max(0, int(within * 86400))


class GitHubScanner:
    """Scans organizations and reads repositories through the cache the CLI uses.

    ``token`` defaults to the CLI's chain (``GITHUB_TOKEN``, ``GH_TOKEN``, gh's
    ``hosts.yml``); ``api_url`` to ``HEIMDALL_API_URL`` or ``https://api.github.com``;
    ``cache_dir`` to ``HEIMDALL_CACHE_DIR`` or ``$XDG_CACHE_HOME/heimdall``. The token
    stays in memory: it is never written to the cache or a log.

    Every coroutine has a blocking twin named ``<name>_sync`` for scripts; the blocking
    forms stop at Ctrl-C (``KeyboardInterrupt``) on the main thread, and a cancelled
    coroutine stops its work too. An interrupted scan resumes where it stopped.
    """

    def __init__(
        self,
        token: Optional[str] = None,
        api_url: Optional[str] = None,
        cache_dir: Optional[PathLike] = None,
    ) -> None:
        directory = None if cache_dir is None else os.fspath(cache_dir)
        self._native = _run.call(lambda _t: _native.Scanner(token, api_url, directory))

    # -- scans ------------------------------------------------------------------------

    def _scan(
        self,
        token: Optional[_native.CancelToken],
        org: str,
        file_patterns: Optional[Sequence[str]],
        cache_days: Optional[float],
        parallel_requests: int,
        language: Optional[str],
        min_stars: Optional[int],
        pushed_within: Union[timedelta, int, float, None],
        max_size_kb: Optional[int],
        include_forks: bool,
        include_archived: bool,
        name: Optional[str],
        progress: Optional[Callable[[str], None]],
    ) -> Dict[str, Any]:
        text = self._native.scan_organization(
            org,
            None if file_patterns is None else list(file_patterns),
            cache_days,
            parallel_requests,
            language,
            min_stars,
            _seconds(pushed_within),
            max_size_kb,
            include_forks,
            include_archived,
            name,
            progress,
            token,
        )
        result: Dict[str, Any] = json.loads(text)
        return result

    async def scan_organization(
        self,
        org: str,
        file_patterns: Optional[Sequence[str]] = None,
        cache_days: Optional[float] = 7,
        parallel_requests: int = 16,
        language: Optional[str] = None,
        min_stars: Optional[int] = None,
        pushed_within: Union[timedelta, int, float, None] = None,
        include_forks: bool = False,
        include_archived: bool = False,
        on_progress: Optional[ProgressCallback] = None,
        max_size_kb: Optional[int] = None,
        name: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Scans ``org``'s repositories (resuming an interrupted scan) and returns the
        codex export: what ``heimdall github export-patterns ORG --format codex`` prints.

        ``file_patterns``: only target files matching these globs (``["*.toml"]``);
        ``cache_days``: reuse a repository's stored result younger than this for the same
        commit (``None``: any age); ``parallel_requests``: repositories scanned at once;
        ``language``, ``min_stars``, ``pushed_within`` (a ``timedelta`` or days),
        ``max_size_kb``, ``name`` (a regular expression), ``include_forks`` and
        ``include_archived`` select repositories. ``on_progress`` is called on the event
        loop with a :class:`ScanProgress` per step (a coroutine function is scheduled).
        """
        loop = asyncio.get_running_loop()

        def deliver(progress: ScanProgress) -> None:
            assert on_progress is not None
            outcome = on_progress(progress)
            if inspect.isawaitable(outcome):
                asyncio.ensure_future(outcome)

        def report(text: str) -> None:
            loop.call_soon_threadsafe(deliver, ScanProgress._from_json(json.loads(text)))

        return await _run.run(
            lambda t: self._scan(
                t, org, file_patterns, cache_days, parallel_requests, language, min_stars,
                pushed_within, max_size_kb, include_forks, include_archived, name,
                report if on_progress is not None else None,
            )
        )

    def scan_organization_sync(
        self,
        org: str,
        file_patterns: Optional[Sequence[str]] = None,
        cache_days: Optional[float] = 7,
        parallel_requests: int = 16,
        language: Optional[str] = None,
        min_stars: Optional[int] = None,
        pushed_within: Union[timedelta, int, float, None] = None,
        include_forks: bool = False,
        include_archived: bool = False,
        on_progress: Optional[ProgressCallback] = None,
        max_size_kb: Optional[int] = None,
        name: Optional[str] = None,
    ) -> Dict[str, Any]:
        """:meth:`scan_organization`, blocking; ``on_progress`` is called in a worker thread."""

        def report(text: str) -> None:
            assert on_progress is not None
            on_progress(ScanProgress._from_json(json.loads(text)))

        return _run.call(
            lambda t: self._scan(
                t, org, file_patterns, cache_days, parallel_requests, language, min_stars,
                pushed_within, max_size_kb, include_forks, include_archived, name,
                report if on_progress is not None else None,
            )
        )

    def _cached(self, org: str) -> OrgPatterns:
        return OrgPatterns(org, json.loads(self._native.cached_patterns(org)))

    async def get_cached_patterns(self, org: str) -> OrgPatterns:
        """Every repository's stored patterns from ``org``'s latest scan, ``{repo: patterns}``
        (no request to GitHub); raises :class:`NotFoundError` if it was never scanned."""
        return await _run.run(lambda _t: self._cached(org))

    def get_cached_patterns_sync(self, org: str) -> OrgPatterns:
        """:meth:`get_cached_patterns`, blocking."""
        return _run.call(lambda _t: self._cached(org))

    def _codex(self, patterns_or_org: Union[str, Mapping[str, Any]]) -> Dict[str, Any]:
        if isinstance(patterns_or_org, str):
            return dict(json.loads(self._native.export_patterns(patterns_or_org, "codex")))
        if "organization" in patterns_or_org and "patterns" in patterns_or_org:
            return dict(patterns_or_org)
        org = getattr(patterns_or_org, "organization", "")
        return dict(json.loads(self._native.aggregate(org, json.dumps(dict(patterns_or_org)))))

    async def export_for_codex(self, patterns_or_org: Union[str, Mapping[str, Any]]) -> Dict[str, Any]:
        """The codex export (``schema/codex.schema.json``) of an organization's latest scan
        (given its name), of :meth:`get_cached_patterns`'s result, or of
        :meth:`scan_organization`'s result (returned as it is)."""
        return await _run.run(lambda _t: self._codex(patterns_or_org))

    def export_for_codex_sync(self, patterns_or_org: Union[str, Mapping[str, Any]]) -> Dict[str, Any]:
        """:meth:`export_for_codex`, blocking."""
        return _run.call(lambda _t: self._codex(patterns_or_org))

    def _export(self, org: str, format: ExportFormat) -> Any:
        text = self._native.export_patterns(org, format)
        return text if format == "jsonl" else json.loads(text)

    async def export_patterns(self, org: str, format: ExportFormat = "codex") -> Any:
        """The latest scan's results as ``heimdall github export-patterns`` writes them:
        ``codex`` (a dict), ``json`` (a list, one dict per repository) or ``jsonl`` (text)."""
        return await _run.run(lambda _t: self._export(org, format))

    def export_patterns_sync(self, org: str, format: ExportFormat = "codex") -> Any:
        """:meth:`export_patterns`, blocking."""
        return _run.call(lambda _t: self._export(org, format))

    def _status(self, org: str) -> Optional[ScanStatus]:
        text = self._native.scan_status(org)
        return None if text is None else ScanStatus._from_json(json.loads(text))

    async def scan_status(self, org: str) -> Optional[ScanStatus]:
        """Progress and outcome of ``org``'s latest scan; ``None`` if it was never scanned."""
        return await _run.run(lambda _t: self._status(org))

    def scan_status_sync(self, org: str) -> Optional[ScanStatus]:
        """:meth:`scan_status`, blocking."""
        return _run.call(lambda _t: self._status(org))

    # -- provider calls -----------------------------------------------------------------

    def _repos(self, org: str, token: Optional[_native.CancelToken]) -> List[RepoMetadata]:
        return [RepoMetadata._from_json(r) for r in json.loads(self._native.list_org_repos(org, token))]

    async def list_org_repos(self, org: str) -> List[RepoMetadata]:
        """The repositories of an organization or user (from the cache when GitHub is
        unreachable and they were listed before)."""
        return await _run.run(lambda t: self._repos(org, t))

    def list_org_repos_sync(self, org: str) -> List[RepoMetadata]:
        """:meth:`list_org_repos`, blocking."""
        return _run.call(lambda t: self._repos(org, t))

    def _tree(self, owner: str, repo: str, ref: Optional[str], token: Optional[_native.CancelToken]) -> List[FileEntry]:
        rows = json.loads(self._native.get_repo_tree(owner, repo, ref, token))
        return [FileEntry(r["path"], r["mode"], r["type"], r["sha"], int(r["size"])) for r in rows]

    async def get_repo_tree(self, owner: str, repo: str, ref: Optional[str] = None) -> List[FileEntry]:
        """Every entry of the repository at ``ref`` (default branch), recursively, sorted by path."""
        return await _run.run(lambda t: self._tree(owner, repo, ref, t))

    def get_repo_tree_sync(self, owner: str, repo: str, ref: Optional[str] = None) -> List[FileEntry]:
        """:meth:`get_repo_tree`, blocking."""
        return _run.call(lambda t: self._tree(owner, repo, ref, t))

    def _file(self, owner: str, repo: str, path: str, ref: Optional[str], token: Optional[_native.CancelToken]) -> FileContent:
        sha, content = self._native.get_file_content(owner, repo, path, ref, token)
        return FileContent(path.strip("/"), sha, content)

    async def get_file_content(self, owner: str, repo: str, path: str, ref: Optional[str] = None) -> FileContent:
        """One file at ``ref`` (default branch), read through the cache and verified."""
        return await _run.run(lambda t: self._file(owner, repo, path, ref, t))

    def get_file_content_sync(self, owner: str, repo: str, path: str, ref: Optional[str] = None) -> FileContent:
        """:meth:`get_file_content`, blocking."""
        return _run.call(lambda t: self._file(owner, repo, path, ref, t))

    def _by_pattern(self, org: str, patterns: Sequence[str], parallel: int, token: Optional[_native.CancelToken]) -> List[FileResult]:
        if isinstance(patterns, str):
            patterns = [patterns]
        rows = self._native.get_files_by_pattern(org, list(patterns), parallel, token)
        return [FileResult(repo, path, sha, kind, content) for repo, path, sha, kind, content in rows]

    async def get_files_by_pattern(
        self, org: str, patterns: Sequence[str], parallel_requests: int = 16
    ) -> List[FileResult]:
        """Every file of ``org``'s repositories (default branches) that one of the globs
        matches, with its content, sorted by repository and path. The rules are a shell
        glob's at each repository's root (``*.toml`` at the root, ``**/*.toml`` anywhere,
        hidden names only by patterns starting with ``.``): the same files as
        ``glob.glob("<mount>/<org>/*/<pattern>", recursive=True)`` on a mount."""
        return await _run.run(lambda t: self._by_pattern(org, patterns, parallel_requests, t))

    def get_files_by_pattern_sync(
        self, org: str, patterns: Sequence[str], parallel_requests: int = 16
    ) -> List[FileResult]:
        """:meth:`get_files_by_pattern`, blocking."""
        return _run.call(lambda t: self._by_pattern(org, patterns, parallel_requests, t))
