#!/usr/bin/env bash
# The test command (README, CI): formatting, lints, then every test in the workspace.
# Integration tests start fakehub (tests/fakehub) on loopback over real git repos.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== doc tests"
cargo test --workspace --doc --quiet
echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
# Content comes over git by default; the mount, CLI and allocation suites run again with
# content over REST only (`--transport rest`), the fallback path.
echo "== tests again over REST (HEIMDALL_TEST_TRANSPORT=rest)"
if cargo nextest --version >/dev/null 2>&1; then
    HEIMDALL_TEST_TRANSPORT=rest cargo nextest run --no-fail-fast --test mount --test cli --test alloc --test shared_cache
else
    HEIMDALL_TEST_TRANSPORT=rest cargo test --no-fail-fast --test mount --test cli --test alloc --test shared_cache
fi

# The Python SDK (python/): built from this checkout into the current interpreter (the dev
# profile shares the test build's artifacts), then its pytest suite against fakehub, with
# content over git and again over REST.
echo "== Python SDK (pip install ./python, pytest)"
cargo build --quiet -p heimdall -p fakehub
MATURIN_PEP517_ARGS="--profile dev" python3 -m pip install --quiet ./python 2>&1 \
    | grep -v "Running pip as the 'root' user" || true
python3 -m pytest -q python/tests
HEIMDALL_TEST_TRANSPORT=rest python3 -m pytest -q python/tests
