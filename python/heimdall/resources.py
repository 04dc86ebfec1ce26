"""Allocations: repositories, paths or globs mounted for a while by the per-user daemon."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import AsyncIterator, Dict, Iterator, List, Optional, Sequence, Union

from . import _native, _run
from ._types import AllocatedResource

__all__ = ["HeimdallResourceManager"]

PathLike = Union[str, "os.PathLike[str]"]


def _launcher() -> List[str]:
    # The daemon is this interpreter running the library (no `heimdall` binary needed).
    return [sys.executable, "-m", "heimdall._daemon"]


class HeimdallResourceManager:
    """Allocates GitHub resources as local paths: ``owner/repo``, ``owner/repo@ref/path``
    or a glob (``owner/repo/**/*.py``), each a mount held by the per-user daemon for a TTL.

    Shares the daemon and the cache with the CLI (``heimdall allocated list`` shows what
    this manager allocated, under ``client_id``). The daemon starts on first use. A
    repository's root is a working copy: tools may write there (caches, build output),
    and nothing reaches GitHub. Every coroutine has a blocking ``<name>_sync`` twin.
    """

    def __init__(self, cache_dir: Optional[PathLike] = None, client_id: str = "python") -> None:
        directory = None if cache_dir is None else os.fspath(cache_dir)
        self.client_id = client_id
        self._native = _run.call(lambda _t: _native.Manager(_launcher(), directory, None))

    def _allocate(self, github_path: str, ttl_hours: Optional[float], hydrate: bool) -> AllocatedResource:
        ttl = None if ttl_hours is None else max(1, int(ttl_hours * 3600))
        text = self._native.allocate(str(github_path), ttl, self.client_id, hydrate, False, False)
        return AllocatedResource._from_json(json.loads(text))

    def _release_quietly(self, allocation: AllocatedResource) -> None:
        with contextlib.suppress(Exception):
            self._native.release(str(allocation.local_path))

    async def allocate(self, github_path: str, ttl_hours: Optional[float] = None, hydrate: bool = False) -> Path:
        """Mounts ``github_path`` and returns its local path. ``ttl_hours``: until the
        daemon releases it (default by size: under 1 MB 1 h, under 100 MB 12 h, else 24 h;
        at most 7 days); ``hydrate``: fetch everything before returning. A cancelled
        call releases what it allocated."""
        allocation = await _run.run(
            lambda _t: self._allocate(github_path, ttl_hours, hydrate),
            on_cancel=self._release_quietly,
        )
        return allocation.local_path

    def allocate_sync(self, github_path: str, ttl_hours: Optional[float] = None, hydrate: bool = False) -> Path:
        """:meth:`allocate`, blocking."""
        return _run.call(lambda _t: self._allocate(github_path, ttl_hours, hydrate)).local_path

    async def allocate_many(
        self, paths: Sequence[str], ttl_hours: Optional[float] = None, hydrate: bool = False
    ) -> Dict[str, Path]:
        """Allocates every path at once: ``{github_path: local_path}``. All or nothing: if
        one fails, those already allocated are released and the first error is raised."""
        tasks = [asyncio.ensure_future(self.allocate(p, ttl_hours, hydrate)) for p in paths]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            for result in results:
                if isinstance(result, Path):
                    with contextlib.suppress(Exception):
                        await self.release(result)
            raise failures[0]
        return {p: r for p, r in zip(paths, results) if isinstance(r, Path)}

    def allocate_many_sync(
        self, paths: Sequence[str], ttl_hours: Optional[float] = None, hydrate: bool = False
    ) -> Dict[str, Path]:
        """:meth:`allocate_many`, blocking (one after the other)."""
        done: Dict[str, Path] = {}
        try:
            for path in paths:
                done[path] = self.allocate_sync(path, ttl_hours, hydrate)
        except BaseException:
            for local in done.values():
                with contextlib.suppress(Exception):
                    self.release_sync(local)
            raise
        return done

    def _list(self, text: str) -> List[AllocatedResource]:
        return [AllocatedResource._from_json(a) for a in json.loads(text)]

    async def release(self, path: PathLike) -> AllocatedResource:
        """Unmounts an allocation (its local path) and returns it; its local changes go
        with it. Raises :class:`NotFoundError` if ``path`` is not an allocation."""
        return await _run.run(lambda _t: self.release_sync(path))

    def release_sync(self, path: PathLike) -> AllocatedResource:
        """:meth:`release`, blocking."""
        absolute = os.path.abspath(os.fspath(path))
        return _run.call(lambda _t: self._list(self._native.release(absolute)))[0]

    async def release_all(self) -> List[AllocatedResource]:
        """Releases every allocation of this manager's ``client_id``."""
        return await _run.run(lambda _t: self.release_all_sync())

    def release_all_sync(self) -> List[AllocatedResource]:
        """:meth:`release_all`, blocking."""
        return _run.call(lambda _t: self._list(self._native.release_all(self.client_id)))

    async def cleanup_expired(self) -> List[AllocatedResource]:
        """Releases every allocation past its TTL (any client's), as the daemon's cleaner does."""
        return await _run.run(lambda _t: self.cleanup_expired_sync())

    def cleanup_expired_sync(self) -> List[AllocatedResource]:
        """:meth:`cleanup_expired`, blocking."""
        return _run.call(lambda _t: self._list(self._native.cleanup(True, None)))

    def list(self) -> List[AllocatedResource]:
        """The live allocations of every client (``heimdall allocated list``)."""
        return _run.call(lambda _t: self._list(self._native.list()))

    @contextlib.asynccontextmanager
    async def allocated(
        self, github_path: str, ttl_hours: Optional[float] = None, hydrate: bool = False
    ) -> AsyncIterator[Path]:
        """``async with rm.allocated("acme/api") as path:`` releases on exit, also when
        the block raises or is cancelled."""
        path = await self.allocate(github_path, ttl_hours, hydrate)
        try:
            yield path
        finally:
            await asyncio.shield(self.release(path))

    @contextlib.contextmanager
    def allocated_sync(
        self, github_path: str, ttl_hours: Optional[float] = None, hydrate: bool = False
    ) -> Iterator[Path]:
        """:meth:`allocated`, blocking: ``with rm.allocated_sync("acme/api") as path:``."""
        path = self.allocate_sync(github_path, ttl_hours, hydrate)
        try:
            yield path
        finally:
            self.release_sync(path)
