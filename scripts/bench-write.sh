#!/usr/bin/env bash
# Write benchmark: tools and plain writes in a mounted working copy vs a local checkout of
# the same commit, in one run (the machine is shared: only ratios within a run count).
# A benchmark, not a test: it prints a table with PASS/MISS per target and exits 0 when
# the run completed (1 if a tool's output differs between the mount and the checkout;
# STRICT=1 also fails on a MISS).
#
#   scripts/bench-write.sh
#   REPS=5 FILES=2000 MYPY_FILES=300 SMALL=10000 BIG_MB=1024 SEED=1 scripts/bench-write.sh
#   SKIP_BUILD=1 CARGO_TARGET_DIR=/some/target scripts/bench-write.sh
#
# Cases (median of REPS repetitions each, mount and local interleaved):
#   warm `ruff check .` with its cache (after two runs that fill it)       target <= 1.1x
#   warm `mypy` with its default cache (after a run that fills it)         target <= 1.2x
#   create and write SMALL files of 100 bytes, then `rm -rf` them          target <= 2x
#   write BIG_MB MB sequentially (dd bs=1M), then read it back             target >= 0.7x
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/bench.sh

REPS=${REPS:-5}
FILES=${FILES:-2000}
MYPY_FILES=${MYPY_FILES:-300}
SMALL=${SMALL:-10000}
BIG_MB=${BIG_MB:-1024}
SEED=${SEED:-1}
STRICT=${STRICT:-0}
TOKEN=bench-token
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
reproduce="cd $PWD && ${TMPDIR:+TMPDIR=$TMPDIR }CARGO_TARGET_DIR=$TARGET_DIR REPS=$REPS FILES=$FILES MYPY_FILES=$MYPY_FILES SMALL=$SMALL BIG_MB=$BIG_MB SEED=$SEED scripts/bench-write.sh"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -q -p heimdall -p fakehub
fi
HEIMDALL=${HEIMDALL:-$TARGET_DIR/release/heimdall}
FAKEHUB=${FAKEHUB:-$TARGET_DIR/release/fakehub}
for tool in ruff mypy; do
    command -v "$tool" >/dev/null || pip install -q "$tool"
done
RUFF=$(python3 -c 'from ruff.__main__ import find_ruff_bin; print(find_ruff_bin())' 2>/dev/null || command -v ruff)
MYPY=$(command -v mypy)

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-write.XXXXXX")
mnt=$work/mnt
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if mountpoint -q "$mnt" 2>/dev/null; then
        HEIMDALL_CACHE_DIR=$work/cache timeout 30 "$HEIMDALL" -q unmount "$mnt" || fusermount3 -uz "$mnt"
    fi
    HEIMDALL_CACHE_DIR=$work/cache "$HEIMDALL" -q daemon stop 2>/dev/null
    fakehub_stop
    if grep -q " $work/" /proc/mounts; then
        echo "left $work in place: something is still mounted under it" >&2
    else
        rm -rf "$work"
    fi
    [ "$rc" != 0 ] && echo "reproduce: $reproduce" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== setup: $FILES-file and $MYPY_FILES-file Python repos (seed $SEED)"
mkdir -p "$work/root"
"$FAKEHUB" gen-python --root "$work/root" --owner acme --repo api --files "$FILES" --seed "$SEED" >/dev/null
"$FAKEHUB" gen-python --root "$work/root" --owner acme --repo typed --files "$MYPY_FILES" --seed "$SEED" >/dev/null
fakehub_start "$FAKEHUB" "$work/root" --token "$TOKEN"
export HEIMDALL_API_URL=$HUB_URL GITHUB_TOKEN=$TOKEN HEIMDALL_CACHE_DIR=$work/cache
for repo in api typed; do
    bench_git clone -q "$work/root/acme/$repo.git" "$work/local/$repo"
done
mkdir -p "$mnt"
"$HEIMDALL" -q mount "$mnt" --org acme
m_api=$mnt/acme/api
m_typed=$mnt/acme/typed
l_api=$work/local/api
l_typed=$work/local/typed

# A tool's run in DIR, output to FILE (exit 1, findings, is success).
tool() { # file dir command...
    local out=$1 dir=$2 rc=0
    shift 2
    (cd "$dir" && timeout 900 "$@") >"$out" 2>&1 || rc=$?
    [ "$rc" -le 1 ] || { echo "$* failed (exit $rc) in $dir: $(head -5 "$out")" >&2; return 1; }
}

echo "== warm ruff with its cache, $REPS repetitions (after two runs each to fill the caches)"
for side in m_api l_api; do
    tool "$work/ruff-fill.txt" "${!side}" "$RUFF" check --output-format concise .
    tool "$work/ruff-fill.txt" "${!side}" "$RUFF" check --output-format concise .
done
ruff_m=() ruff_l=()
for i in $(seq "$REPS"); do
    t0=$(bench_now); tool "$work/ruff-m-$i.txt" "$m_api" "$RUFF" check --output-format concise .; ruff_m+=("$(bench_since "$t0")")
    t0=$(bench_now); tool "$work/ruff-l-$i.txt" "$l_api" "$RUFF" check --output-format concise .; ruff_l+=("$(bench_since "$t0")")
    printf '  rep %d: mount %ss, local %ss\n' "$i" "${ruff_m[-1]}" "${ruff_l[-1]}"
done

echo "== warm mypy with its default cache, $REPS repetitions (after a run each to fill it)"
tool "$work/mypy-fill-m.txt" "$m_typed" "$MYPY" --no-error-summary src
tool "$work/mypy-fill-l.txt" "$l_typed" "$MYPY" --no-error-summary src
mypy_m=() mypy_l=()
for i in $(seq "$REPS"); do
    t0=$(bench_now); tool "$work/mypy-m-$i.txt" "$m_typed" "$MYPY" --no-error-summary src; mypy_m+=("$(bench_since "$t0")")
    t0=$(bench_now); tool "$work/mypy-l-$i.txt" "$l_typed" "$MYPY" --no-error-summary src; mypy_l+=("$(bench_since "$t0")")
    printf '  rep %d: mount %ss, local %ss\n' "$i" "${mypy_m[-1]}" "${mypy_l[-1]}"
done

echo "== $SMALL files of 100 bytes created and written, then rm -rf, $REPS repetitions"
small() { # dir -> "create_secs rm_secs"
    python3 - "$1" "$SMALL" <<'EOF'
import os, sys, time, shutil
root, n = sys.argv[1], int(sys.argv[2])
d = os.path.join(root, "bench-small")
t0 = time.perf_counter()
os.mkdir(d)
for i in range(n):
    with open(os.path.join(d, f"f{i}"), "w") as f:
        f.write("x" * 100)
t1 = time.perf_counter()
shutil.rmtree(d)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
EOF
}
small_m=() small_l=()
for i in $(seq "$REPS"); do
    read -r cm rm_m <<<"$(small "$m_api")"
    read -r cl rm_l <<<"$(small "$l_api")"
    small_m+=("$(awk -v a="$cm" -v b="$rm_m" 'BEGIN { printf "%.3f", a + b }')")
    small_l+=("$(awk -v a="$cl" -v b="$rm_l" 'BEGIN { printf "%.3f", a + b }')")
    printf '  rep %d: mount create %ss + rm %ss, local create %ss + rm %ss\n' "$i" "$cm" "$rm_m" "$cl" "$rm_l"
done

echo "== ${BIG_MB} MB written sequentially (dd bs=1M) then read back, $REPS repetitions"
big() { # dir -> "seconds" for write + read back
    local f=$1/bench-big.bin t0
    rm -f "$f"
    t0=$(bench_now)
    dd if=/dev/zero of="$f" bs=1M count="$BIG_MB" status=none
    cat "$f" >/dev/null
    bench_since "$t0"
    rm -f "$f"
}
big_m=() big_l=()
for i in $(seq "$REPS"); do
    big_m+=("$(big "$m_api")")
    big_l+=("$(big "$l_api")")
    printf '  rep %d: mount %ss, local %ss\n' "$i" "${big_m[-1]}" "${big_l[-1]}"
done

mismatch=0
for i in $(seq "$REPS"); do
    cmp -s "$work/ruff-m-$i.txt" "$work/ruff-l-$i.txt" || { echo "  ruff output differs in rep $i" >&2; mismatch=1; }
    cmp -s "$work/mypy-m-$i.txt" "$work/mypy-l-$i.txt" || { echo "  mypy output differs in rep $i" >&2; mismatch=1; }
done

RM=$(bench_median "${ruff_m[@]}"); RL=$(bench_median "${ruff_l[@]}")
YM=$(bench_median "${mypy_m[@]}"); YL=$(bench_median "${mypy_l[@]}")
SM=$(bench_median "${small_m[@]}"); SL=$(bench_median "${small_l[@]}")
BM=$(bench_median "${big_m[@]}"); BL=$(bench_median "${big_l[@]}")
r_ruff=$(bench_ratio "$RM" "$RL"); v_ruff=$(bench_verdict "$r_ruff" "<=" 1.1)
r_mypy=$(bench_ratio "$YM" "$YL"); v_mypy=$(bench_verdict "$r_mypy" "<=" 1.2)
r_small=$(bench_ratio "$SM" "$SL"); v_small=$(bench_verdict "$r_small" "<=" 2.0)
# Throughput: local time / mount time.
r_big=$(bench_ratio "$BL" "$BM"); v_big=$(bench_verdict "$r_big" ">=" 0.7)

echo
echo "== heimdall write benchmark: median of $REPS"
printf '%-52s %9s %9s\n' "case" "mount" "local"
printf '%-52s %8ss %8ss\n' "warm ruff check . ($FILES files, cache on)" "$RM" "$RL"
printf '%-52s %8ss %8ss\n' "warm mypy src ($MYPY_FILES files, default cache)" "$YM" "$YL"
printf '%-52s %8ss %8ss\n' "create+write $SMALL files, then rm -rf" "$SM" "$SL"
printf '%-52s %8ss %8ss\n' "write ${BIG_MB} MB sequentially, read it back" "$BM" "$BL"
echo
printf '%-34s %7s   %-10s %s\n' "ratio" "value" "target" "verdict"
printf '%-34s %6sx   %-10s %s\n' "warm ruff: mount / local" "$r_ruff" "<= 1.1x" "$v_ruff"
printf '%-34s %6sx   %-10s %s\n' "warm mypy: mount / local" "$r_mypy" "<= 1.2x" "$v_mypy"
printf '%-34s %6sx   %-10s %s\n' "small files: mount / local" "$r_small" "<= 2.0x" "$v_small"
printf '%-34s %6sx   %-10s %s\n' "1 GB throughput: mount / local" "$r_big" ">= 0.7x" "$v_big"
echo
echo "tool output identical on the mount and the checkout in every run: $([ $mismatch = 0 ] && echo yes || echo NO)"
echo "heimdall: $HEIMDALL (built $(date -r "$HEIMDALL" '+%F %T')); work tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' + uncommitted changes'); $("$RUFF" --version); $("$MYPY" --version); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "reproduce: $reproduce"
[ $mismatch = 0 ] || exit 1
if [ "$STRICT" = 1 ] && [ "$v_ruff$v_mypy$v_small$v_big" != PASSPASSPASSPASS ]; then exit 1; fi
exit 0
