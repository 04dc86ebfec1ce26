"""fakehub (the project's GitHub emulator) over real git repositories, and an isolated
Heimdall environment (cache, runtime directory, daemon) per test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sdk-test-token"
CORPUS = Path(os.environ.get("HEIMDALL_CORPUS", ROOT.parent / "shared" / "corpus"))


def binary(name: str) -> Path:
    directory = Path(os.environ.get("HEIMDALL_TEST_BIN_DIR", ROOT / "target" / "debug"))
    path = directory / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build -p heimdall -p fakehub` first")
    return path


def git(*args: str, cwd: Optional[Path] = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, owner: str, name: str, files: Dict[str, str]) -> Path:
    bare = root / owner / f"{name}.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    with tempfile.TemporaryDirectory() as work:
        src = Path(work)
        git("init", "-q", "-b", "main", cwd=src)
        for path, text in files.items():
            (src / path).parent.mkdir(parents=True, exist_ok=True)
            (src / path).write_text(text)
        git("add", "-A", cwd=src)
        git("commit", "-qm", "init", cwd=src)
        git("push", "-q", str(bare), "main", cwd=src)
    return bare


SOMEPROJECT = {
    "pyproject.toml": '[project]\nname = "someproject"\ndependencies = ["requests>=2"]\n\n'
    '[tool.ruff.lint]\nselect = ["E", "F", "I"]\n\n[tool.mypy]\nstrict = true\n',
    "src/someproject/__init__.py": '"""Some project."""\n',
    "src/someproject/app.py": "import os\nimport sys\n\n\ndef greet(name: str) -> str:\n"
    '    return "hello " + name\n\n\ndef untyped(x):\n    return x\n',
    "tests/test_app.py": "from someproject.app import greet\n\n\ndef test_greet() -> None:\n"
    '    assert greet("a") == "hello a"\n',
    ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: actions/checkout@v4\n      - run: pytest\n",
    ".pre-commit-config.yaml": "repos:\n  - repo: https://github.com/astral-sh/ruff-pre-commit\n"
    "    rev: v0.6.0\n    hooks:\n      - id: ruff\n",
    "config/settings.toml": '[server]\nport = 8080\n',
}

WEB = {
    "package.json": json.dumps({"name": "web", "scripts": {"test": "jest", "lint": "eslint ."},
                                "devDependencies": {"jest": "^29", "eslint": "^9"}}, indent=2) + "\n",
    "tsconfig.json": '{"compilerOptions": {"strict": true}}\n',
    "src/index.js": "export const x = 1;\n",
    "config/deploy.toml": 'region = "eu"\n',
    ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: actions/setup-node@v4\n",
}

TOOLS = {
    "setup.cfg": "[flake8]\nmax-line-length = 100\n",
    "requirements.txt": "click==8.1.7\nrich>=13\n",
    "nested/deep/dir/pyproject.toml": '[project]\nname = "inner"\n',
    "main.py": "print('tools')\n",
}


@dataclass
class Hub:
    url: str
    root: Path
    process: "subprocess.Popen[str]"

    def control(self, path: str, body: Optional[Dict[str, Any]] = None, method: str = "POST") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_fakehub/{path}", data=data, method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            text = answer.read()
            return json.loads(text) if text else None

    def stats(self) -> Dict[str, Any]:
        stats: Dict[str, Any] = self.control("stats", method="GET")
        return stats


def start_hub(root: Path, *extra: str) -> Hub:
    out = root.parent / f"{root.name}-hub.out"
    handle = out.open("w")
    process = subprocess.Popen([str(binary("fakehub")), "--root", str(root), "--token", TOKEN, *extra],
                               stdout=handle, stderr=subprocess.DEVNULL, text=True)
    import time
    for _ in range(200):
        text = out.read_text()
        if "listening on " in text:
            url = text.split("listening on ", 1)[1].split()[0]
            return Hub(url, root, process)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("fakehub did not start")


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("hub") / "root"
    make_repo(root, "acme", "someproject", SOMEPROJECT)
    make_repo(root, "acme", "web", WEB)
    make_repo(root, "acme", "tools", TOOLS)
    if (CORPUS / "werkzeug.bundle").exists():
        # A real repository beside the generated ones (bundles of shallow clones need
        # scripts/corpus.sh to unpack).
        real = root.parent / "corpus"
        subprocess.run(["bash", str(ROOT / "scripts" / "corpus.sh"), str(real)], check=True,
                       capture_output=True, env=dict(os.environ, HEIMDALL_CORPUS=str(CORPUS)))
        (real / "realworld" / "werkzeug.git").rename(root / "acme" / "werkzeug.git")
    for i in range(12):
        make_repo(root, "many", f"repo{i:02}", {
            "pyproject.toml": f'[project]\nname = "r{i}"\n\n[tool.ruff]\nline-length = {80 + i}\n',
            "package.json": json.dumps({"name": f"r{i}", "scripts": {"build": "tsc"}}) + "\n",
        })
    hub = start_hub(root)
    yield hub
    hub.process.send_signal(signal.SIGTERM)
    hub.process.wait(timeout=10)


@dataclass
class Env:
    hub: Hub
    home: Path
    vars: Dict[str, str]

    @property
    def cache(self) -> Path:
        return Path(self.vars["HEIMDALL_CACHE_DIR"])

    def cli(self, *args: str, check: bool = True, env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
        full = {**os.environ, **self.vars, **(env or {})}
        done = subprocess.run([str(binary("heimdall")), *args], env=full, capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"heimdall {' '.join(args)}: {done.returncode}\n{done.stderr}")
        return done


@pytest.fixture
def env(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    values = {
        "HEIMDALL_API_URL": hub.url,
        "HEIMDALL_CACHE_DIR": str(tmp_path / "cache"),
        "HEIMDALL_RUNTIME_DIR": str(runtime),
        "GITHUB_TOKEN": TOKEN,
        "HEIMDALL_NO_RETRY_DELAY": "1",
    }
    transport = os.environ.get("HEIMDALL_TEST_TRANSPORT")
    if transport:
        values["HEIMDALL_TRANSPORT"] = transport
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    environment = Env(hub, tmp_path, values)
    yield environment
    environment.cli("daemon", "stop", check=False)
    hub.control("faults", method="DELETE")
    hub.control("rate-limit", {"limit": 5000})
    hub.control("latency", {"ms": 0})


def clone(hub: Hub, owner: str, repo: str, into: Path) -> Path:
    git("clone", "-q", "--depth", "1", f"file://{hub.root / owner / (repo + '.git')}", str(into))
    return into


def files_of(bare: Path) -> List[str]:
    return git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "HEAD").split()


__all__ = ["Env", "Hub", "clone", "files_of", "git", "shutil"]
