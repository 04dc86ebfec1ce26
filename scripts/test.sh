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
    HEIMDALL_TEST_TRANSPORT=rest cargo nextest run --no-fail-fast --test mount --test cli --test alloc
else
    HEIMDALL_TEST_TRANSPORT=rest cargo test --no-fail-fast --test mount --test cli --test alloc
fi
