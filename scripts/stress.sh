#!/usr/bin/env bash
# Load, full length: tests/stress.rs (64 readers doing random stats, listings, full and
# random-offset reads over a 20,000-file repo on a daemon-served mount, every answer
# checked against a git clone; then the same load on that clone), built in release mode
# and run for SECS seconds per run. The test is the one implementation of the load; this
# runs it with its knobs set and shows the table it prints: ops/s mount vs checkout,
# errors, mismatches, the daemon's RSS. Exits with the test's status.
#
#   scripts/stress.sh
#   SECS=120 SEED=2 LATENCY_MS=20 HYDRATE_THRESHOLD=64 RECLAIM_MS=0 scripts/stress.sh
#   CARGO_TARGET_DIR=/work/target-bench scripts/stress.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-60}
SEED=${SEED:-1}
LATENCY_MS=${LATENCY_MS:-5}
HYDRATE_THRESHOLD=${HYDRATE_THRESHOLD:-0}
# The kernel drops its dentries and inodes this often (root only; 0: never), so the
# mount also answers FORGETs and lookups of names it served before.
RECLAIM_MS=${RECLAIM_MS:-1000}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
reproduce="cd $PWD && CARGO_TARGET_DIR=$TARGET_DIR SECS=$SECS SEED=$SEED LATENCY_MS=$LATENCY_MS HYDRATE_THRESHOLD=$HYDRATE_THRESHOLD RECLAIM_MS=$RECLAIM_MS scripts/stress.sh"

log=$(mktemp "${TMPDIR:-/tmp}/stress.XXXXXX")
trap 'rm -f "$log"' EXIT

echo "== building tests/stress.rs in release mode ($TARGET_DIR)"
CARGO_TARGET_DIR=$TARGET_DIR cargo test --release -q --test stress --no-run 2>&1 | grep -v '^ *Executable' || true

echo "== running: $SECS s on the mount, then $SECS s on the checkout"
rc=0
HEIMDALL_STRESS_SECS=$SECS HEIMDALL_STRESS_SEED=$SEED HEIMDALL_STRESS_LATENCY_MS=$LATENCY_MS \
    HEIMDALL_STRESS_HYDRATE_THRESHOLD=$HYDRATE_THRESHOLD HEIMDALL_STRESS_RECLAIM_MS=$RECLAIM_MS \
    CARGO_TARGET_DIR=$TARGET_DIR \
    cargo test --release -q --test stress -- --nocapture --test-threads 1 >"$log" 2>&1 || rc=$?

# The test's report starts at its "== stress" line; anything before it is build noise.
if grep -q '^== stress' "$log"; then
    sed -n '/^== stress/,$p' "$log"
else
    cat "$log"
fi
heimdall=$TARGET_DIR/release/heimdall
echo "heimdall: $heimdall (built $(date -r "$heimdall" '+%F %T')); work tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' + uncommitted changes'); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "reproduce: $reproduce"
exit "$rc"
