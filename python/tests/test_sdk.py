"""The Python SDK against fakehub: the issue's example verbatim, equality with the CLI and
with a mount, every exception by its fault, concurrency, and interrupted scans."""

from __future__ import annotations

import asyncio
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import heimdall
from heimdall import GitHubScanner, HeimdallResourceManager

from conftest import Env, clone, files_of, git


async def test_the_issue_example_verbatim(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    found_pyproject = False
    # --- the example, as a user writes it ---
    scanner = GitHubScanner(token=os.environ.get("GITHUB_TOKEN"))
    patterns = await scanner.scan_organization(org="acme", file_patterns=["*.toml", "*.json"],
                                               cache_days=7, parallel_requests=5)
    cached = await scanner.get_cached_patterns("acme")
    codex = await scanner.export_for_codex(patterns)

    rm = HeimdallResourceManager()
    repo_path = await rm.allocate("acme/someproject", ttl_hours=24)
    try:
        subprocess.run(["ruff", "check", repo_path])
        subprocess.run(["mypy", repo_path])
        if (repo_path / "pyproject.toml").exists():
            found_pyproject = True
    finally:
        await rm.release(repo_path)
    # --- what it must have done ---
    assert found_pyproject
    assert codex == patterns and codex["organization"] == "acme"
    assert codex["repositories_scanned"] == len(cached) >= 3
    assert "someproject" in cached and "web" in cached
    assert isinstance(repo_path, Path) and not repo_path.exists() or not any(repo_path.iterdir())
    assert rm.list() == []


def strip(text: str, root: Path) -> str:
    return text.replace(str(root) + "/", "").replace(str(root), ".")


async def test_ruff_and_mypy_on_an_allocation_match_a_clone(env: Env, tmp_path: Path) -> None:
    rm = HeimdallResourceManager()
    async with rm.allocated("acme/someproject") as path:
        here = clone(env.hub, "acme", "someproject", tmp_path / "clone")
        results = []
        for root in (path, here):
            # Default flags and caches: ruff writes .ruff_cache into the working copy.
            ruff = subprocess.run(["ruff", "check", "."], cwd=root, capture_output=True, text=True)
            mypy = subprocess.run(["mypy", "src"], cwd=root, capture_output=True, text=True)
            results.append((ruff.returncode, strip(ruff.stdout, root), mypy.returncode, strip(mypy.stdout, root)))
            assert (root / ".ruff_cache").is_dir() and (root / ".mypy_cache").is_dir()
        assert results[0] == results[1]
        assert results[0][0] == 1 and "F401" in results[0][1]  # unused imports, found on both
        assert results[0][2] == 1 and "untyped" in results[0][3]
        listed = rm.list()
        assert [a.github_path for a in listed] == ["acme/someproject"]
        assert listed[0].client_id == "python" and not listed[0].is_expired
        assert listed[0].local_path == path
    assert rm.list() == []
    # The CLI sees the same daemon: nothing left.
    assert json.loads(env.cli("allocated", "list", "--json").stdout) == []


async def test_scan_equals_the_cli_export(env: Env, tmp_path: Path) -> None:
    scanner = GitHubScanner()
    progress: List[heimdall.ScanProgress] = []
    codex = await scanner.scan_organization("acme", on_progress=progress.append)
    exported = json.loads(env.cli("github", "export-patterns", "acme", "--format", "codex").stdout)
    assert codex == exported
    # A fresh cache scanned by the CLI gives the same export.
    fresh = env.cli("github", "scan-org", "acme", "-q", env={"HEIMDALL_CACHE_DIR": str(tmp_path / "other")})
    assert json.loads(fresh.stdout) == codex
    assert progress[0].event == "started" and progress[0].total == len(progress) - 1
    assert {p.repo for p in progress[1:]} >= {"someproject", "web", "tools"}
    assert await scanner.export_patterns("acme", "json") == json.loads(
        env.cli("github", "export-patterns", "acme", "--format", "json").stdout)
    assert await scanner.export_patterns("acme", "jsonl") == env.cli(
        "github", "export-patterns", "acme", "--format", "jsonl").stdout
    # export_for_codex of the cached per-repo patterns aggregates them the same way.
    assert await scanner.export_for_codex(await scanner.get_cached_patterns("acme")) == codex
    assert await scanner.export_for_codex("acme") == codex
    status = await scanner.scan_status("acme")
    assert status is not None and status.state == "finished" and status.repos_done == status.repos_total
    assert await scanner.scan_status("never-scanned") is None


async def test_files_by_pattern_equal_a_glob_over_a_mount(env: Env, tmp_path: Path) -> None:
    scanner = GitHubScanner()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env.cli("mount", str(mnt), "--org", "acme")
    try:
        for patterns in (["**/*.toml"], ["*.json", ".github/workflows/*.yml"], ["src/**/*.py", "*.cfg"]):
            found = await scanner.get_files_by_pattern("acme", patterns)
            globbed = sorted({
                os.path.relpath(p, mnt / "acme")
                for pattern in patterns
                for p in glob.glob(str(mnt / "acme" / "*" / pattern), recursive=True)
                if os.path.isfile(p)
            })
            names = [f"{f.repository}/{f.path}" for f in found]
            assert set(names) == set(globbed), (patterns, set(names) ^ set(globbed))
            assert names == globbed, patterns
            for f in found:
                assert f.content == (mnt / "acme" / f.repository / f.path).read_bytes()
                assert hashlib.sha1(b"blob %d\0" % f.size + f.content).hexdigest() == f.sha
        cli = env.cli("github", "files", "acme", "**/*.toml").stdout.split()
        assert cli == [f"{f.repository}/{f.path}" for f in await scanner.get_files_by_pattern("acme", ["**/*.toml"])]
    finally:
        env.cli("unmount", str(mnt))


def test_provider_calls_match_git(env: Env) -> None:
    scanner = GitHubScanner()
    repos = scanner.list_org_repos_sync("acme")
    assert {"someproject", "web", "tools"} <= {r.name for r in repos}
    bare = env.hub.root / "acme" / "someproject.git"
    tree = scanner.get_repo_tree_sync("acme", "someproject")
    listed = git("--git-dir", str(bare), "ls-tree", "-r", "-t", "-l", "HEAD").splitlines()
    expected = sorted((line.split("\t")[1], line.split()[2], line.split()[0]) for line in listed)
    assert [(e.path, e.sha, e.mode) for e in tree] == expected
    assert {e.path for e in tree if e.type == "file"} == set(files_of(bare))
    content = scanner.get_file_content_sync("acme", "someproject", "src/someproject/app.py")
    assert content.content.decode() == git("--git-dir", str(bare), "show", "HEAD:src/someproject/app.py")
    assert content.sha == git("--git-dir", str(bare), "rev-parse", "HEAD:src/someproject/app.py").strip()
    at_ref = scanner.get_file_content_sync("acme", "web", "package.json", ref="main")
    assert json.loads(at_ref.text)["name"] == "web"


async def test_every_exception_comes_from_its_fault(env: Env, tmp_path: Path) -> None:
    scanner = GitHubScanner()
    with pytest.raises(heimdall.NotFoundError, match="not found"):
        await scanner.get_file_content("acme", "no-such-repo", "README.md")
    with pytest.raises(heimdall.NotFoundError, match="does not exist"):
        await scanner.get_file_content("acme", "web", "no/such/file")
    with pytest.raises(heimdall.InvalidPathError):
        await scanner.get_file_content("acme", "web", "../../etc/passwd")
    with pytest.raises(heimdall.InvalidPathError, match="not a file"):
        await scanner.get_file_content("acme", "web", "src")
    with pytest.raises(heimdall.InvalidPathError):
        await scanner.get_files_by_pattern("acme", ["../x"])
    rm = HeimdallResourceManager()
    with pytest.raises(heimdall.InvalidPathError):
        await rm.allocate("not a resource")
    with pytest.raises(heimdall.NotFoundError):
        await rm.allocate("acme/no-such-repo")
    with pytest.raises(heimdall.NotFoundError, match="not an allocation"):
        await rm.release(tmp_path / "nothing")
    with pytest.raises(heimdall.AuthError, match="bad credentials"):
        await GitHubScanner(token="wrong-token", cache_dir=tmp_path / "c2").list_org_repos("acme")
    with pytest.raises(heimdall.OfflineError):
        await GitHubScanner(api_url="http://127.0.0.1:9", cache_dir=tmp_path / "c3").list_org_repos("acme")
    env.hub.control("rate-limit", {"limit": 0, "reset_after_secs": 3600})
    with pytest.raises(heimdall.RateLimitedError) as limited:
        await GitHubScanner(cache_dir=tmp_path / "c4").list_org_repos("acme")
    assert limited.value.reset_at is not None and limited.value.reset_at.timestamp() > time.time() + 3000
    for cls in (heimdall.NotFoundError, heimdall.RateLimitedError, heimdall.AuthError,
                heimdall.OfflineError, heimdall.InvalidPathError):
        assert issubclass(cls, heimdall.HeimdallError)


async def test_eight_tasks_allocate_and_release_at_once(env: Env) -> None:
    rm = HeimdallResourceManager(client_id="workers")
    resources = ["acme/someproject", "acme/web", "acme/tools", "acme/someproject/src",
                 "acme/web@main", "acme/tools/**/*.toml", "acme/someproject/**/*.py", "acme/web/config"]

    async def work(resource: str) -> str:
        async with rm.allocated(resource, ttl_hours=1) as path:
            names = sorted(p.name for p in path.rglob("*") if p.is_file())
            assert names, resource
            return resource

    done = await asyncio.gather(*(work(r) for r in resources))
    assert sorted(done) == sorted(resources)
    assert rm.list() == []
    many = await rm.allocate_many(["acme/web", "acme/tools"])
    assert set(many) == {"acme/web", "acme/tools"} and all(p.is_dir() for p in many.values())
    with pytest.raises(heimdall.NotFoundError):
        await rm.allocate_many(["acme/web/src", "acme/no-such-repo"])
    assert sorted(a.github_path for a in rm.list()) == ["acme/tools", "acme/web"]
    released = await rm.release_all()
    assert len(released) == 2 and rm.list() == []


SCRIPT = """
import sys
from heimdall import GitHubScanner
def report(p):
    if p.event == "repo":
        print("done", p.repo, flush=True)
GitHubScanner().scan_organization_sync("many", parallel_requests=1, on_progress=report)
print("finished", flush=True)
"""


def test_ctrl_c_during_a_scan_then_a_resumed_scan_redoes_nothing(env: Env) -> None:
    env.hub.control("latency", {"ms": 60})
    child = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ, **env.vars))
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first.startswith("done"), first + (child.stderr.read() if child.stderr else "")
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert "KeyboardInterrupt" in err and "finished" not in out, (out, err)
    env.hub.control("latency", {"ms": 0})
    scanner = GitHubScanner()
    status = scanner.scan_status_sync("many")
    assert status is not None and status.state == "running"
    finished = {line.split()[1] for line in [first, *out.splitlines()] if line.startswith("done")}
    assert 1 <= status.repos_done == len(finished) < 12
    events: List[heimdall.ScanProgress] = []
    scanner.scan_organization_sync("many", on_progress=events.append)
    assert events[0].resumed
    redone = {e.repo for e in events[1:]}
    assert redone.isdisjoint(finished) and len(redone) == 12 - len(finished)
    status = scanner.scan_status_sync("many")
    assert status is not None and status.state == "finished" and status.repos_done == 12


async def test_a_cancelled_scan_task_stops_and_resumes(env: Env) -> None:
    env.hub.control("latency", {"ms": 60})
    scanner = GitHubScanner()
    seen: List[str] = []
    started = asyncio.Event()

    def report(p: heimdall.ScanProgress) -> None:
        if p.event == "repo":
            seen.append(p.repo or "")
            started.set()

    task = asyncio.ensure_future(scanner.scan_organization("many", parallel_requests=1, on_progress=report))
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    status = await scanner.scan_status("many")
    assert status is not None and status.state == "running" and status.repos_done < 12
    done_before = status.repos_done
    env.hub.control("latency", {"ms": 0})
    events: List[heimdall.ScanProgress] = []
    await scanner.scan_organization("many", on_progress=events.append)
    await asyncio.sleep(0)  # progress is delivered on the loop
    assert events[0].resumed and len(events) - 1 == 12 - done_before


def test_blocking_forms_and_context_manager_release_on_error(env: Env) -> None:
    rm = HeimdallResourceManager()
    with pytest.raises(RuntimeError):
        with rm.allocated_sync("acme/web") as path:
            assert (path / "package.json").exists()
            raise RuntimeError("the tool failed")
    assert rm.list() == []
    path = rm.allocate_sync("acme/tools", ttl_hours=0.0003)  # about a second
    time.sleep(2)
    expired = [a for a in rm.list() if a.is_expired]
    assert [a.local_path for a in expired] == [path] or rm.list() == []
    rm.cleanup_expired_sync()
    assert rm.list() == []


def test_the_typed_example_passes_mypy_strict() -> None:
    example = Path(__file__).with_name("typed_example.py")
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(example)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
