#!/usr/bin/env bash
# Mount benchmark: ruff over a generated Python repository and large-file reads, on a
# heimdall mount vs git clone / a local checkout, all served by one local fakehub with
# injected latency. A benchmark, not a test: it prints a table with PASS/MISS per target
# and exits 0 when the run completed (1 if the mount's ruff findings differ from the
# checkout's; STRICT=1 also fails on a MISS).
#
#   scripts/bench-mount.sh
#   REPS=5 FILES=2000 LATENCY_MS=20 BIG_MB=200 SEED=1 scripts/bench-mount.sh
#   SKIP_BUILD=1 CARGO_TARGET_DIR=/some/target scripts/bench-mount.sh
#   TMPDIR=/dev/shm scripts/bench-mount.sh   # work dir, caches and checkouts on tmpfs
#
# Creating thousands of files soon after deleting thousands is slow on ext4 (inode
# allocation skips recently freed inodes), so back-to-back runs on disk read slower clones
# and cold mounts; TMPDIR=/dev/shm takes the file system out of the comparison.
#
# Cases (median of REPS repetitions each):
#   (a) git clone --depth 1 over fakehub's smart HTTP + ruff check on the checkout
#   (b) ruff check on a cold mount (fresh cache dir, fresh mount each repetition)
#   (c) ruff check on the warm mount (the last cold mount, run again)
#   (d) ruff check on a local checkout (the baseline for c)
# ruff runs as people type it, with its cache: on the mount it writes .ruff_cache into
# the working copy, on the checkout into the checkout.
#   read a BIG_MB file: warm on the mount vs the same bytes on local disk (both warm)
#   (e) real repositories from ../shared/corpus (REAL="pydantic:0.8 vite:0.3"), each
#       clone --depth 1 + ruff vs a cold mount (mount included) + ruff, with the counted
#       REST requests and git requests of the cold run: where ruff reads most files
#       (pydantic) the target is 0.8x, where it reads few (vite, a JavaScript monorepo
#       with a handful of Python files) 0.3x. TRANSPORT=rest measures the REST path.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/bench.sh

REPS=${REPS:-5}
FILES=${FILES:-2000}
SEED=${SEED:-1}
LATENCY_MS=${LATENCY_MS:-20}
BIG_MB=${BIG_MB:-200}
REAL=${REAL:-pydantic:0.8 vite:0.3}
TRANSPORT=${TRANSPORT:-auto}
export HEIMDALL_TRANSPORT=$TRANSPORT
STRICT=${STRICT:-0}
TOKEN=bench-token
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

reproduce="cd $PWD && ${TMPDIR:+TMPDIR=$TMPDIR }CARGO_TARGET_DIR=$TARGET_DIR REPS=$REPS FILES=$FILES SEED=$SEED LATENCY_MS=$LATENCY_MS BIG_MB=$BIG_MB REAL='$REAL' TRANSPORT=$TRANSPORT scripts/bench-mount.sh"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -q -p heimdall -p fakehub
fi
HEIMDALL=${HEIMDALL:-$TARGET_DIR/release/heimdall}
FAKEHUB=${FAKEHUB:-$TARGET_DIR/release/fakehub}
command -v ruff >/dev/null || pip install -q ruff
command -v ruff >/dev/null || { echo "ruff is not installed and pip could not install it" >&2; exit 1; }
# The real binary, not a wrapper such as pyenv's shim (a bash script costing ~0.1 s a run).
RUFF=$(python3 -c 'from ruff.__main__ import find_ruff_bin; print(find_ruff_bin())' 2>/dev/null || command -v ruff)

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-mount.XXXXXX")
MOUNTS=()      # mountpoints this script mounted
SERVER_PIDS=() # heimdall mount servers this script started
LAST_CACHE=

unmount_one() { # mountpoint
    local m=$1
    mountpoint -q "$m" 2>/dev/null || return 0
    timeout 30 "$HEIMDALL" unmount "$m" >/dev/null 2>&1 ||
        fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ "$rc" != 0 ]; then
        echo "== failed (exit $rc)" >&2
        [ -n "$LAST_CACHE" ] && [ -f "$LAST_CACHE/daemon.log" ] &&
            { echo "-- tail of $LAST_CACHE/daemon.log" >&2; tail -20 "$LAST_CACHE/daemon.log" >&2; }
        [ -f "$work/fakehub.err" ] && { echo "-- tail of fakehub.err" >&2; tail -5 "$work/fakehub.err" >&2; }
    fi
    for m in "${MOUNTS[@]}"; do unmount_one "$m"; done
    for p in "${SERVER_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill "$p" 2>/dev/null
    done
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

# ruff over DIR (cwd = DIR, so paths in the output are comparable), output to FILE.
# Exit 1 (findings) is success; 2 (an error) is not.
run_ruff() { # dir file
    local rc=0
    (cd "$1" && timeout 900 "$RUFF" check --output-format concise .) >"$2" 2>"$2.err" || rc=$?
    if [ "$rc" -gt 1 ]; then
        echo "ruff failed (exit $rc) in $1: $(head -5 "$2.err")" >&2
        return 1
    fi
}
findings() { grep -cE ':[0-9]+:[0-9]+: [A-Z]+[0-9]+' "$1" || true; }
findings_digest() { { grep -E ':[0-9]+:[0-9]+: [A-Z]+[0-9]+' "$1" || true; } | sort | md5sum | cut -c1-12; }

mount_fresh() { # mountpoint cache [mount options...] -> sets MOUNT_SECS
    local mnt=$1 cache=$2 t0 out
    mkdir -p "$mnt"
    LAST_CACHE=$cache
    t0=$(bench_now)
    MOUNTS+=("$mnt")
    out=$(HEIMDALL_CACHE_DIR=$cache timeout 120 "$HEIMDALL" -q mount "$mnt" --org acme "${@:3}" 2>&1) || {
        echo "heimdall mount failed: $out" >&2
        return 1
    }
    MOUNT_SECS=$(bench_since "$t0")
    local pid
    pid=$(printf '%s\n' "$out" | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
    [ -n "$pid" ] && SERVER_PIDS+=("$pid")
    mountpoint -q "$mnt" || { echo "heimdall mount returned but $mnt is not mounted" >&2; return 1; }
}

echo "== setup: $FILES-file Python repo (seed $SEED), ${BIG_MB} MB blob, fakehub latency ${LATENCY_MS} ms"
mkdir -p "$work/root"
"$FAKEHUB" gen-python --root "$work/root" --owner acme --repo api --files "$FILES" --seed "$SEED"
"$FAKEHUB" gen-blob --root "$work/root" --owner acme --repo blobs --path data.bin --size "${BIG_MB}M" --seed "$SEED"
real_names=()
if [ -n "$REAL" ] && bash scripts/corpus.sh "$work/root" realworld >/dev/null 2>&1; then
    for case in $REAL; do
        [ -d "$work/root/realworld/${case%%:*}.git" ] && real_names+=("$case")
    done
else
    echo "  (no corpus: the real-repository cases are skipped)"
fi
fakehub_start "$FAKEHUB" "$work/root" --latency-ms "$LATENCY_MS" --token "$TOKEN"
export HEIMDALL_API_URL=$HUB_URL GITHUB_TOKEN=$TOKEN
clone_url=$HUB_URL/acme/api.git
auth_header="http.extraHeader=Authorization: Bearer $TOKEN"

echo "== (a) clone+ruff and (b) cold mount, interleaved, $REPS repetitions"
a_times=() b_times=() mount_times=() clone_only=() cold_reqs=()
cold_stats_first=
for i in $(seq "$REPS"); do
    # (a) git clone --depth 1 + ruff
    co=$work/clone-$i
    t0=$(bench_now)
    bench_git -c "$auth_header" clone -q --depth 1 "$clone_url" "$co"
    clone_only+=("$(bench_since "$t0")")
    run_ruff "$co" "$work/ruff-clone-$i.txt"
    a_times+=("$(bench_since "$t0")")

    # (b) cold mount
    mnt=$work/mnt-$i
    cache=$work/cache-$i
    mount_fresh "$mnt" "$cache"
    mount_times+=("$MOUNT_SECS")
    fakehub_reset_stats
    t0=$(bench_now)
    run_ruff "$mnt/acme/api" "$work/ruff-cold-$i.txt"
    b_times+=("$(bench_since "$t0")")
    cold_reqs+=("$(fakehub_requests)")
    [ "$i" = 1 ] && cold_stats_first=$(fakehub_stats_line)
    printf '  rep %d: clone %ss + ruff = %ss | mount %ss, cold ruff %ss, %s requests\n' \
        "$i" "${clone_only[-1]}" "${a_times[-1]}" "$MOUNT_SECS" "${b_times[-1]}" "${cold_reqs[-1]}"
    # Nothing is deleted before the end: creating thousands of files right after deleting
    # thousands is much slower on ext4 (inode allocation skips recently freed inodes), which
    # would penalise whichever case runs next.
    if [ "$i" -lt "$REPS" ]; then unmount_one "$mnt"; fi
done
mnt=$work/mnt-$REPS
local_co=$work/clone-$REPS

# Counted REST requests and git requests since the last reset.
counted_and_git() {
    curl -sf "$HUB_URL/_fakehub/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["counted"], s["routes"].get("git_http", 0))'
}

echo "== (e) real repositories: clone+ruff vs cold mount+ruff, $REPS repetitions each"
real_rows=()
for case in "${real_names[@]}"; do
    name=${case%%:*} target=${case#*:}
    e_clone=() e_mount=() e_ruff=() e_counted=() e_git=()
    for i in $(seq "$REPS"); do
        co=$work/real-$name-$i
        t0=$(bench_now)
        bench_git -c "$auth_header" clone -q --depth 1 "$HUB_URL/realworld/$name.git" "$co"
        run_ruff "$co" "$work/ruff-real-$name-clone-$i.txt"
        e_clone+=("$(bench_since "$t0")")
        rmnt=$work/real-mnt-$name-$i
        fakehub_reset_stats
        t0=$(bench_now)
        # Mounted with the repositories' owner, as someone working on that org would.
        mount_fresh "$rmnt" "$work/real-cache-$name-$i" --org realworld
        t1=$(bench_now)
        run_ruff "$rmnt/realworld/$name" "$work/ruff-real-$name-mount-$i.txt"
        e_ruff+=("$(bench_since "$t1")")
        e_mount+=("$(bench_since "$t0")")
        read -r c g < <(counted_and_git)
        e_counted+=("$c") e_git+=("$g")
        if [ "$(findings_digest "$work/ruff-real-$name-clone-$i.txt")" != "$(findings_digest "$work/ruff-real-$name-mount-$i.txt")" ]; then
            echo "  $name: ruff findings differ between the clone and the mount" >&2
            mismatch_real=1
        fi
        printf '  %s rep %d: clone+ruff %ss, cold mount+ruff %ss (ruff alone %ss; %s counted REST, %s git requests)\n' \
            "$name" "$i" "${e_clone[-1]}" "${e_mount[-1]}" "${e_ruff[-1]}" "$c" "$g"
        unmount_one "$rmnt"
    done
    EA=$(bench_median "${e_clone[@]}") EB=$(bench_median "${e_mount[@]}") EC=$(bench_median "${e_ruff[@]}")
    r=$(bench_ratio "$EB" "$EA")
    # The same cold run without the mount's own start (a mount is made once and serves
    # every repository; the clone is made per repository).
    rr=$(bench_ratio "$EC" "$EA")
    real_rows+=("$(printf '%-34s %6sx   %-10s %s' \
        "  $name: fresh mount's ruff / clone+ruff" "$rr" "<= ${target}x" "$(bench_verdict "$rr" "<=" "$target")")")
    real_rows+=("$(printf '%-34s %6sx   %-10s %s   (%s files; REST counted %s, git %s per cold run)' \
        "  $name: cold mount / clone+ruff" "$r" "<= ${target}x" "$(bench_verdict "$r" "<=" "$target")" \
        "$(git --git-dir "$work/root/realworld/$name.git" ls-tree -r HEAD | wc -l)" \
        "$(bench_median "${e_counted[@]}")" "$(bench_median "${e_git[@]}")")")
done

echo "== (c) warm mount and (d) local checkout, interleaved, $REPS repetitions"
c_times=() d_times=()
for i in $(seq "$REPS"); do
    t0=$(bench_now)
    run_ruff "$mnt/acme/api" "$work/ruff-warm-$i.txt"
    c_times+=("$(bench_since "$t0")")
    t0=$(bench_now)
    run_ruff "$local_co" "$work/ruff-local-$i.txt"
    d_times+=("$(bench_since "$t0")")
    printf '  rep %d: warm mount %ss, local %ss\n' "$i" "${c_times[-1]}" "${d_times[-1]}"
done

echo "== sanity: the tree on the mount vs the checkout"
n_mount=$(cd "$mnt/acme/api" && find . -path ./.git -prune -o -type f -print | wc -l)
n_local=$(cd "$local_co" && find . -path ./.git -prune -o -type f -print | wc -l)
sum_mount=$(cd "$mnt/acme/api" && find . -name '*.py' -print0 | sort -z | xargs -0 cat | md5sum | cut -c1-12)
sum_local=$(cd "$local_co" && find . -path ./.git -prune -o -name '*.py' -print0 | sort -z | xargs -0 cat | md5sum | cut -c1-12)
echo "  files: mount $n_mount, checkout $n_local; .py content digest: mount $sum_mount, checkout $sum_local"

echo "== read ${BIG_MB} MB: mount (warm) vs local disk (warm), $REPS repetitions"
big=$mnt/acme/blobs/data.bin
local_big=$work/local.bin
git --git-dir "$work/root/acme/blobs.git" cat-file blob HEAD:data.bin >"$local_big"
fakehub_reset_stats
t0=$(bench_now)
cat "$big" >/dev/null
first_read=$(bench_since "$t0")
first_read_stats=$(fakehub_stats_line)
# The same blob with curl from fakehub (the cold read's baseline: same server, same latency).
big_sha=$(git --git-dir "$work/root/acme/blobs.git" rev-parse HEAD:data.bin)
t0=$(bench_now)
curl -sf -H "Authorization: Bearer $TOKEN" -H 'Accept: application/vnd.github.raw+json' \
    "$HUB_URL/repos/acme/blobs/git/blobs/$big_sha" -o /dev/null
curl_read=$(bench_since "$t0")
t0=$(bench_now)
curl -sf --compressed -H "Authorization: Bearer $TOKEN" -H 'Accept: application/vnd.github.raw+json' \
    "$HUB_URL/repos/acme/blobs/git/blobs/$big_sha" -o /dev/null
curl_gz_read=$(bench_since "$t0")
cat "$big" >/dev/null
cat "$local_big" >/dev/null
cmp -s "$big" "$local_big" && same_bytes=yes || same_bytes=NO
mount_mbs=() local_mbs=()
for i in $(seq "$REPS"); do
    mount_mbs+=("$(bench_read_mbs "$big")")
    local_mbs+=("$(bench_read_mbs "$local_big")")
    printf '  rep %d: mount %s MB/s, local %s MB/s\n' "$i" "${mount_mbs[-1]}" "${local_mbs[-1]}"
done

echo "== --passthrough: a second mount of the same warm cache; warm ruff and ${BIG_MB} MB reads, $REPS repetitions"
pmnt=$work/mnt-passthrough
mount_fresh "$pmnt" "$LAST_CACHE" --passthrough
run_ruff "$pmnt/acme/api" "$work/ruff-pwarm-0.txt" # first run on this mount: lookups
p_times=() pd_times=() p_mbs=() pl_mbs=()
for i in $(seq "$REPS"); do
    t0=$(bench_now)
    run_ruff "$pmnt/acme/api" "$work/ruff-pwarm-$i.txt"
    p_times+=("$(bench_since "$t0")")
    t0=$(bench_now)
    run_ruff "$local_co" "$work/ruff-plocal-$i.txt"
    pd_times+=("$(bench_since "$t0")")
done
cat "$pmnt/acme/blobs/data.bin" >/dev/null
cmp -s "$pmnt/acme/blobs/data.bin" "$local_big" || same_bytes=NO
for i in $(seq "$REPS"); do
    p_mbs+=("$(bench_read_mbs "$pmnt/acme/blobs/data.bin")")
    pl_mbs+=("$(bench_read_mbs "$local_big")")
    printf '  rep %d: warm ruff %ss (local %ss); read %s MB/s (local %s MB/s)\n' \
        "$i" "${p_times[-1]}" "${pd_times[-1]}" "${p_mbs[-1]}" "${pl_mbs[-1]}"
done
open_mode=$(sed -n 's/.*"open_mode": "\([a-z-]*\)".*/\1/p' "$pmnt/.status/mount.json")

# Findings: every run against the first checkout run.
ref=$work/ruff-clone-1.txt
ref_n=$(findings "$ref")
ref_d=$(findings_digest "$ref")
mismatch=0
for f in "$work"/ruff-{clone,cold,warm,local,pwarm,plocal}-*.txt; do
    if [ "$(findings_digest "$f")" != "$ref_d" ]; then
        echo "  findings differ: $(basename "$f") has $(findings "$f"), $(basename "$ref") has $ref_n" >&2
        mismatch=1
    fi
done

A=$(bench_median "${a_times[@]}")
B=$(bench_median "${b_times[@]}")
C=$(bench_median "${c_times[@]}")
D=$(bench_median "${d_times[@]}")
M=$(printf '%.1f' "$(bench_median "${mount_mbs[@]}")")
L=$(printf '%.1f' "$(bench_median "${local_mbs[@]}")")
r_cold=$(bench_ratio "$B" "$A")
r_warm=$(bench_ratio "$C" "$D")
r_read=$(bench_ratio "$M" "$L")
v_cold=$(bench_verdict "$r_cold" "<=" 0.8)
v_warm=$(bench_verdict "$r_warm" "<=" 1.2)
v_read=$(bench_verdict "$r_read" ">=" 0.8)
P=$(bench_median "${p_times[@]}")
PD=$(bench_median "${pd_times[@]}")
PM=$(printf '%.1f' "$(bench_median "${p_mbs[@]}")")
PL=$(printf '%.1f' "$(bench_median "${pl_mbs[@]}")")
r_pwarm=$(bench_ratio "$P" "$PD")
r_pread=$(bench_ratio "$PM" "$PL")
v_pwarm=$(bench_verdict "$r_pwarm" "<=" 1.2)
v_pread=$(bench_verdict "$r_pread" ">=" 0.8)

echo
echo "== heimdall mount benchmark: $FILES .py files, ${LATENCY_MS} ms latency, median of $REPS"
printf '%-44s %9s %9s %9s\n' "case" "median" "min" "max"
row() { printf '%-44s %8ss %8ss %8ss\n' "$1" "$(bench_median "${@:2}")" "$(bench_min "${@:2}")" "$(bench_max "${@:2}")"; }
row "(a) git clone --depth 1 + ruff" "${a_times[@]}"
row "    of which git clone --depth 1" "${clone_only[@]}"
row "(b) ruff, cold mount" "${b_times[@]}"
row "    heimdall mount (before b, not in b)" "${mount_times[@]}"
row "(c) ruff, warm mount" "${c_times[@]}"
row "(d) ruff, local checkout" "${d_times[@]}"
printf '%-44s %7s MB/s (min %s, max %s)\n' "read ${BIG_MB} MB, warm mount" "$M" "$(bench_min "${mount_mbs[@]}")" "$(bench_max "${mount_mbs[@]}")"
printf '%-44s %7s MB/s (min %s, max %s)\n' "read ${BIG_MB} MB, local disk" "$L" "$(bench_min "${local_mbs[@]}")" "$(bench_max "${local_mbs[@]}")"
row "(c) ruff, warm --passthrough mount" "${p_times[@]}"
row "(d) ruff, local checkout (beside it)" "${pd_times[@]}"
printf '%-44s %7s MB/s (min %s, max %s)\n' "read ${BIG_MB} MB, warm --passthrough mount" "$PM" "$(bench_min "${p_mbs[@]}")" "$(bench_max "${p_mbs[@]}")"
printf '%-44s %7s MB/s (min %s, max %s)\n' "read ${BIG_MB} MB, local disk (beside it)" "$PL" "$(bench_min "${pl_mbs[@]}")" "$(bench_max "${pl_mbs[@]}")"
printf '%-44s %8ss  (%s)\n' "read ${BIG_MB} MB, first read on the mount" "$first_read" "$first_read_stats"
printf '%-44s %8ss\n' "    curl of the same blob from fakehub" "$curl_read"
printf '%-44s %8ss  (fakehub gzips it when asked, like the API)\n' "    the same with curl --compressed" "$curl_gz_read"
echo
printf '%-34s %7s   %-10s %s\n' "ratio" "value" "target" "verdict"
printf '%-34s %6sx   %-10s %s\n' "cold mount / clone+ruff" "$r_cold" "<= 0.8x" "$v_cold"
for row in "${real_rows[@]}"; do echo "$row"; done
printf '%-34s %6sx   %-10s %s\n' "warm mount / local" "$r_warm" "<= 1.2x" "$v_warm"
printf '%-34s %6sx   %-10s %s\n' "mount / local read throughput" "$r_read" ">= 0.8x" "$v_read"
printf '%-34s %6sx   %-10s %s\n' "  --passthrough: warm / local" "$r_pwarm" "<= 1.2x" "$v_pwarm"
printf '%-34s %6sx   %-10s %s\n' "  --passthrough: read throughput" "$r_pread" ">= 0.8x" "$v_pread"
echo "(the second mount reports open_mode: ${open_mode:-unknown})"
echo
echo "ruff findings: checkout $ref_n, cold mount $(findings "$work/ruff-cold-1.txt"), warm mount $(findings "$work/ruff-warm-1.txt"), local $(findings "$work/ruff-local-1.txt"); identical in every run: $([ $mismatch = 0 ] && echo yes || echo NO)"
echo "tree: $n_mount files on the mount, $n_local in the checkout; .py contents equal: $([ "$sum_mount" = "$sum_local" ] && echo yes || echo NO); ${BIG_MB} MB file bytes equal: $same_bytes"
echo "fakehub requests during the first cold ruff run: $cold_stats_first"
echo "fakehub requests per cold ruff run: ${cold_reqs[*]}"
echo "transport: $TRANSPORT; real-repository findings identical: $([ "${mismatch_real:-0}" = 0 ] && echo yes || echo NO)"
echo "heimdall: $HEIMDALL ($("$HEIMDALL" --version 2>/dev/null), built $(date -r "$HEIMDALL" '+%F %T')); work tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' + uncommitted changes'); $("$RUFF" --version) ($RUFF); $(git --version)"
echo "reproduce: $reproduce"

[ $mismatch = 0 ] && [ "${mismatch_real:-0}" = 0 ] && [ "$sum_mount" = "$sum_local" ] && [ "$same_bytes" = yes ] || exit 1
if [ "$STRICT" = 1 ] && [ "$v_cold$v_warm$v_read" != PASSPASSPASS ]; then exit 1; fi
exit 0
