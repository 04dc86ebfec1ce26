#!/usr/bin/env bash
# bench-scan: `heimdall github scan-org` versus the do-it-yourself alternative
# (`git clone --depth 1` of every repository, 8 at a time, then reading the
# same target files), against a generated organization (fakehub gen-org)
# served by fakehub with a per-request latency. A benchmark, not a test:
# it prints a table with ratios, the targets with PASS/MISS, and the command
# that reproduces the run.
#
# Measured: cold scan time, requests (fakehub's /_fakehub/stats: requests,
# rate-limit-counted, per route), warm rescan time and requests, peak RSS of
# each scan (/usr/bin/time %M); for the clone approach, the listing plus
# clones plus reads, its requests and the disk it needed. Afterwards the
# codex export is checked against the generator's ground-truth manifest
# (tools, dependencies, hooks, actions, structure, parse errors).
#
# Targets: cold scan >= 5x faster than the clone approach; warm rescan < 2 s.
#
# Environment (defaults):
#   REPOS=200 SEED=1 LATENCY_MS=20 CLONE_PARALLEL=8 SCAN_PARALLEL=16 OWNER=acme
#   SCAN_CONCURRENCY=    heimdall's --concurrency (unset: its default, 16)
#   RUNS=3           each measurement is repeated (fresh cache / fresh clones
#                    for cold ones); the table shows medians and [min-max]
#   CARGO_TARGET_DIR=/work/target-fakehub
#   SKIP_BUILD=1     use the existing release binaries
#   KEEP=1           keep the work directory (printed) instead of deleting it
#   TMPDIR           where the work directory goes
#
# Requires git, curl, jq, /usr/bin/time; python3 for the manifest check
# (skipped without it).
set -euo pipefail

REPOS=${REPOS:-200}
SEED=${SEED:-1}
LATENCY_MS=${LATENCY_MS:-20}
CLONE_PARALLEL=${CLONE_PARALLEL:-8}
SCAN_PARALLEL=${SCAN_PARALLEL:-16}
SCAN_CONCURRENCY=${SCAN_CONCURRENCY:-}
RUNS=${RUNS:-3}
OWNER=${OWNER:-acme}
TOKEN=ghp_benchscan0000000000000000000000000000
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-fakehub}
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
BIN=$CARGO_TARGET_DIR/release

for tool in git curl jq /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-scan: $tool is required" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-scan.XXXXXX")
HUB_PID=
cleanup() {
    local rc=$?
    if [[ -n $HUB_PID ]] && kill -0 "$HUB_PID" 2>/dev/null; then
        kill "$HUB_PID" 2>/dev/null || true
        wait "$HUB_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "bench-scan: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }

# --- build --------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    say "building release binaries (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)..."
    if ! (cd "$ROOT_DIR" && cargo build --release -q -p heimdall -p fakehub); then
        say "bench-scan: the build failed; rerun later or with SKIP_BUILD=1 to use $BIN/{heimdall,fakehub}"
        exit 1
    fi
fi
for b in heimdall fakehub; do
    [[ -x $BIN/$b ]] || { say "bench-scan: $BIN/$b missing (build it or unset SKIP_BUILD)"; exit 2; }
done
HEIMDALL_VERSION="$(cd "$ROOT_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT_DIR" && git diff --quiet HEAD -- src 2>/dev/null || echo '+dirty')"
BIN_AGE=$(date -r "$BIN/heimdall" '+%Y-%m-%d %H:%M')

# --- organization and server --------------------------------------------------
say "generating $REPOS repositories (seed $SEED)..."
t0=$(now)
"$BIN/fakehub" gen-org --root "$WORK/root" --owner "$OWNER" --repos "$REPOS" --seed "$SEED" >"$WORK/gen.out"
GEN_SECS=$(secs "$t0" "$(now)")
MANIFEST=$WORK/root/$OWNER/manifest.json

"$BIN/fakehub" --root "$WORK/root" --latency-ms "$LATENCY_MS" --token "$TOKEN" >"$WORK/hub.out" 2>"$WORK/hub.err" &
HUB_PID=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$WORK/hub.out" 2>/dev/null && break
    sleep 0.05
done
URL=$(sed -n 's/^listening on //p' "$WORK/hub.out")
[[ -n $URL ]] || { say "bench-scan: fakehub did not start: $(cat "$WORK/hub.err")"; exit 1; }
HOSTPORT=${URL#http://}

stats() { curl -sf "$URL/_fakehub/stats"; }
reset_stats() { curl -sf -X POST "$URL/_fakehub/reset-stats" >/dev/null; }

export HEIMDALL_API_URL=$URL GITHUB_TOKEN=$TOKEN

# scan NAME: runs scan-org, records time, RSS and stats as $WORK/NAME.*
scan() {
    local name=$1
    reset_stats
    local t0
    t0=$(now)
    /usr/bin/time -f '%M' -o "$WORK/$name.rss" \
        "$BIN/heimdall" ${SCAN_CONCURRENCY:+--concurrency "$SCAN_CONCURRENCY"} \
        github scan-org "$OWNER" --parallel "$SCAN_PARALLEL" \
        --output "$WORK/$name.codex.json" 2>"$WORK/$name.log" ||
        { say "bench-scan: $name scan failed:"; tail -5 "$WORK/$name.log" >&2; exit 1; }
    secs "$t0" "$(now)" >"$WORK/$name.secs"
    stats >"$WORK/$name.stats"
}

# clone_run N: lists the org, clones what scan-org covers, reads the target
# files; records $WORK/clone-N.{secs,read,stats}.
clone_run() {
    local n=$1 dir=$WORK/clones-$1 page=1 body t0 t_cloned
    reset_stats
    mkdir -p "$dir"
    t0=$(now)
    : >"$WORK/repos.txt"
    while :; do
        body=$(curl -sf -H "Authorization: Bearer $TOKEN" "$URL/orgs/$OWNER/repos?per_page=100&page=$page")
        # The same repositories scan-org covers by default: no forks, no archived.
        jq -r '.[] | select(.fork | not) | select(.archived | not) | .name' <<<"$body" >>"$WORK/repos.txt"
        [[ $(jq length <<<"$body") -lt 100 ]] && break
        page=$((page + 1))
    done
    GIT_TERMINAL_PROMPT=0 xargs -P "$CLONE_PARALLEL" -I{} \
        git -c advice.detachedHead=false clone -q --depth 1 \
        "http://x-access-token:$TOKEN@$HOSTPORT/$OWNER/{}.git" "$dir/{}" \
        <"$WORK/repos.txt" 2>"$WORK/clone.err" || { say "bench-scan: clones failed:"; tail -5 "$WORK/clone.err" >&2; exit 1; }
    t_cloned=$(now)
    find "$dir" -path '*/.git' -prune -o -type f \( \
        -name pyproject.toml -o -name package.json -o -name 'requirements*.txt' -o -path '*/requirements/*.txt' \
        -o -name setup.py -o -name setup.cfg -o -name tox.ini -o -name tsconfig.json -o -name '.eslintrc*' \
        -o -name 'eslint.config.*' -o -name '.pre-commit-config.yaml' -o -path '*/.github/workflows/*' \
        -o -name README.md -o -name CONTRIBUTING.md -o -name 'LICENSE*' -o -name ruff.toml -o -name mypy.ini \
        -o -name pytest.ini -o -name .flake8 -o -name '.prettierrc*' \) -print0 >"$WORK/targets"
    xargs -0 -r cat <"$WORK/targets" >/dev/null
    secs "$t0" "$(now)" >"$WORK/clone-$n.secs"
    secs "$t_cloned" "$(now)" >"$WORK/clone-$n.read"
    stats >"$WORK/clone-$n.stats"
    CLONE_DISK=$(du -sm "$dir" | cut -f1)
    rm -rf "$dir"
}

for n in $(seq "$RUNS"); do
    say "run $n/$RUNS: cold scan..."
    export HEIMDALL_CACHE_DIR=$WORK/cache-$n
    scan "cold-$n"
    say "run $n/$RUNS: warm rescan..."
    scan "warm-$n"
    say "run $n/$RUNS: git clone --depth 1 x$CLONE_PARALLEL + reading target files..."
    clone_run "$n"
done
"$BIN/heimdall" github scan-status "$OWNER" --json >"$WORK/status.json" 2>/dev/null || echo '{}' >"$WORK/status.json"
CLONED=$(wc -l <"$WORK/repos.txt")
TARGET_FILES=$(tr -cd '\0' <"$WORK/targets" | wc -c)
# The last run's stats and exports stand for all (they are the same each run).
for x in cold warm clone; do
    cp "$WORK/$x-$RUNS.stats" "$WORK/$x.stats"
done
cp "$WORK/cold-$RUNS.log" "$WORK/cold.log"
cp "$WORK/cold-$RUNS.codex.json" "$WORK/cold.codex.json"
cp "$WORK/warm-$RUNS.codex.json" "$WORK/warm.codex.json"
cp "$WORK/cold-$RUNS.rss" "$WORK/cold.rss"
cp "$WORK/warm-$RUNS.rss" "$WORK/warm.rss"

# median FILES...: the median of the numbers in FILES; range FILES...: [min-max]
median() { cat "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { cat "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "[%.2f-%.2f]", lo, hi }'; }
COLD_SECS=$(median "$WORK"/cold-*.secs)
WARM_SECS=$(median "$WORK"/warm-*.secs)
CLONE_SECS=$(median "$WORK"/clone-*.secs)
READ_SECS=$(median "$WORK"/clone-*.read)
COLD_RANGE=$(range "$WORK"/cold-*.secs)
WARM_RANGE=$(range "$WORK"/warm-*.secs)
CLONE_RANGE=$(range "$WORK"/clone-*.secs)

# --- report ----------------------------------------------------------------------
req() { jq -r "$2" "$WORK/$1.stats"; }
routes() { jq -r '.routes | to_entries | sort_by(-.value) | map("\(.key) \(.value)") | join(", ")' "$WORK/$1.stats"; }
mb() { sort -g "$WORK"/"$1"-*.rss | tail -1 | awk '{ printf "%.0f MB", $1 / 1024 }'; }
SPEEDUP=$(awk -v c="$CLONE_SECS" -v s="$COLD_SECS" 'BEGIN { printf "%.1f", c / s }')
COLD_OK=$(awk -v x="$SPEEDUP" 'BEGIN { print (x >= 5) ? "PASS" : "MISS" }')
WARM_OK=$(awk -v w="$WARM_SECS" 'BEGIN { print (w < 2) ? "PASS" : "MISS" }')
WARM_RATIO=$(awk -v c="$COLD_SECS" -v w="$WARM_SECS" 'BEGIN { printf "%.1f", c / w }')
SCANNED=$(grep -Eo '[0-9]+ of [0-9]+ repositories scanned, [0-9]+ failed' "$WORK/cold.log" | tail -1 || true)

cat <<EOF

bench-scan: $REPOS generated repositories ($(sed -n 1p "$WORK/gen.out" | sed 's/^[^(]*(//; s/) in .*//')), generated in ${GEN_SECS} s
  fakehub --latency-ms $LATENCY_MS, token accepted; heimdall $HEIMDALL_VERSION (binary built $BIN_AGE); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)
  scan-org --parallel $SCAN_PARALLEL${SCAN_CONCURRENCY:+ --concurrency $SCAN_CONCURRENCY}: $SCANNED; clones: $CLONED repositories (same set: no forks, no archived), $CLONE_PARALLEL at a time

EOF
row() { printf '  %-26s %8s %-15s %8s %-10s %s\n' "$@"; }
row '' 'time (s)' "[min-max of $RUNS]" requests '(counted)' 'peak RSS / disk'
row 'heimdall scan-org, cold' "$COLD_SECS" "$COLD_RANGE" "$(req cold .requests)" "($(req cold .counted))" "$(mb cold)"
row 'heimdall scan-org, warm' "$WARM_SECS" "$WARM_RANGE" "$(req warm .requests)" "($(req warm .counted))" "$(mb warm)"
row 'clone --depth 1 + read' "$CLONE_SECS" "$CLONE_RANGE" "$(req clone .requests)" "($(req clone .counted))" "${CLONE_DISK} MB of clones"
row '  of which reading files' "$READ_SECS" '' "$TARGET_FILES" 'files' ''
echo
target() { printf '  %-26s %-36s %-14s %s\n' "$@"; }
target 'cold scan vs clone' "${SPEEDUP}x faster" 'target >= 5x' "$COLD_OK"
target 'warm rescan' "${WARM_SECS} s (${WARM_RATIO}x faster than cold)" 'target < 2 s' "$WARM_OK"
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
    echo "  note: load average above the core count; the clone baseline (git http-backend, pack-objects,"
    echo "        index-pack: CPU-bound) swings with load much more than the latency-bound scan does"
fi
cat <<EOF

  requests by route, cold:  $(routes cold)
  requests by route, warm:  $(routes warm)  (not modified: $(req warm .not_modified))
  requests by route, clone: $(routes clone)
  scan-status --json: $(jq -r '"\(.state // "?"), \(.repos_done // "?") of \(.repos_total // "?") done, \(.repos_failed // "?") failed" + (if (.failed // []) | length > 0 then " (" + ([.failed[].reason | sub("^GET [^:]*: "; "")] | group_by(.) | map("\(length)x \(.[0])") | join("; ")) + ")" else "" end)' "$WORK/status.json")
EOF

if command -v python3 >/dev/null; then
    python3 - "$MANIFEST" "$WORK/cold.codex.json" "$WORK/warm.codex.json" <<'PY'
import json, sys
from collections import defaultdict
m = json.load(open(sys.argv[1])); cold = json.load(open(sys.argv[2])); warm = json.load(open(sys.argv[3]))
sel = [r for r in m["repos"] if not r["fork"] and not r["archived"] and not r["empty"]]
checks, bad = 0, []
def compare(label, expected, got):
    global checks
    for k in sorted(set(expected) | set(got)):
        checks += 1
        if expected.get(k) != got.get(k):
            bad.append(f"{label} {k}: manifest {expected.get(k)} codex {got.get(k)}")
compare("repositories_scanned", {"n": len(sel)}, {"n": cold["repositories_scanned"]})
for eco in ("python", "javascript", "general"):
    exp = defaultdict(set)
    for r in sel:
        for t in r[eco]["tools"]:
            exp[t].add(r["name"])
    compare(f"{eco} tool", {k: len(v) for k, v in exp.items()},
            {k: len(v["repositories"]) for k, v in cold["patterns"][eco]["tools"].items()})
    if eco == "general":
        continue
    exp, ver = defaultdict(set), defaultdict(set)
    for r in sel:
        for d in r[eco]["dependencies"]:
            exp[d["name"]].add(r["name"])
            if d["specifier"]:
                ver[d["name"]].add(d["specifier"])
    deps = cold["patterns"][eco]["dependencies"]
    compare(f"{eco} dependency", {k: len(v) for k, v in exp.items()},
            {k: len(v["repositories"]) for k, v in deps.items()})
    compare(f"{eco} versions", {k: sorted(v) for k, v in ver.items() if v},
            {k: sorted(v["versions"]) for k, v in deps.items() if v["versions"]})
hooks = defaultdict(int)
for r in sel:
    for h in {h["id"] for h in r["precommit_hooks"]}:
        hooks[h] += 1
compare("hook", dict(hooks), cold["patterns"]["general"]["pre-commit"]["hooks"])
acts = defaultdict(set)
for r in sel:
    for a in r["actions"]:
        acts[a["name"]].add(r["name"])
compare("action", {k: len(v) for k, v in acts.items()},
        {k: v["frequency"] for k, v in cold["patterns"]["general"]["github-actions"]["actions"].items()})
st = cold["patterns"]["general"]["structure"]
for key, mk in [("src_layout", "src_layout"), ("tests_dir", "tests_dir"), ("docs_dir", "docs_dir"),
                ("readme", "has_readme"), ("contributing", "has_contributing")]:
    compare("structure", {key: sum(r["structure"][mk] for r in sel)}, {key: st[key]})
pe = cold["patterns"]["general"]["parse_errors"]
compare("parse errors", {"repositories": sum(1 for r in sel if r["malformed"])}, {"repositories": pe["frequency"]})
same = {k: v for k, v in cold.items() if k != "scan_date"} == {k: v for k, v in warm.items() if k != "scan_date"}
print(f"\n  codex vs ground-truth manifest: {checks - len(bad)}/{checks} facts agree; warm export {'identical to' if same else 'DIFFERS from'} cold")
for b in bad[:15]:
    print(f"    mismatch: {b}")
if len(bad) > 15:
    print(f"    ... {len(bad) - 15} more")
PY
fi

cat <<EOF

  reproduce: SKIP_BUILD=1 REPOS=$REPOS SEED=$SEED LATENCY_MS=$LATENCY_MS CLONE_PARALLEL=$CLONE_PARALLEL SCAN_PARALLEL=$SCAN_PARALLEL${SCAN_CONCURRENCY:+ SCAN_CONCURRENCY=$SCAN_CONCURRENCY} CARGO_TARGET_DIR=$CARGO_TARGET_DIR TMPDIR=${TMPDIR:-/tmp} scripts/bench-scan.sh
EOF
