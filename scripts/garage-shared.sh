#!/usr/bin/env bash
# The shared cache on a distributed store: a three-node Garage cluster on loopback
# (every object on all three nodes), then the shared-cache tests against it (a second
# machine needs no content from GitHub, a corrupted object is refetched and replaced,
# the cluster frozen mid-run fails no read, private content stays out without the flag,
# the credentials reach no log or cache file; each test under its own prefix), then the
# shared-cache benchmark on the same kind of cluster. Not part of CI (building Garage
# takes ~20 minutes on 2 cores); CI runs the same tests on moto.
#
#   scripts/garage-shared.sh               # builds garage into target/garage if missing
#   GARAGE=/path/to/garage SKIP_BENCH=1 scripts/garage-shared.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/garage.sh

if [ ! -x "${GARAGE:-}" ]; then
    GARAGE=$PWD/target/garage/bin/garage
    if [ ! -x "$GARAGE" ]; then
        echo "== cargo install garage (2.5.0, sqlite metadata; ~20 minutes on 2 cores)"
        cargo install garage --version 2.5.0 --locked --no-default-features \
            --features bundled-libs,sqlite --root "$PWD/target/garage" --quiet
    fi
fi
export GARAGE
echo "== $("$GARAGE" --version 2>/dev/null | head -1 || echo garage)"

work=$(mktemp -d "${TMPDIR:-/tmp}/garage-shared.XXXXXX")
cleanup() {
    local rc=$?
    set +e
    garage_stop
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== three Garage nodes on loopback (replication factor 3)"
garage_start "$work/cluster"
"$GARAGE" -c "$work/cluster/node1.toml" status | sed 's/^/  /'

echo "== shared-cache tests against the cluster ($GARAGE_ENDPOINT)"
export HEIMDALL_TEST_S3_ENDPOINT=$GARAGE_ENDPOINT HEIMDALL_TEST_S3_KEY_ID=$GARAGE_KEY_ID
export HEIMDALL_TEST_S3_SECRET=$GARAGE_SECRET HEIMDALL_TEST_S3_PIDS=$GARAGE_PIDS
# One test at a time: they share the cluster, and one of them freezes it.
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --test shared_cache --no-fail-fast --test-threads 1
else
    cargo test --test shared_cache --no-fail-fast -- --test-threads 1
fi
unset HEIMDALL_TEST_S3_ENDPOINT HEIMDALL_TEST_S3_KEY_ID HEIMDALL_TEST_S3_SECRET HEIMDALL_TEST_S3_PIDS
garage_stop

if [ "${SKIP_BENCH:-0}" != 1 ]; then
    echo "== scripts/bench-shared.sh on a fresh three-node cluster (BUCKET=garage)"
    BUCKET=garage scripts/bench-shared.sh
fi
