# Shared helpers for the benchmark scripts (source it; bash only).
#
#   . scripts/lib/bench.sh
#   fakehub_start "$FAKEHUB" "$root" --latency-ms 20 --token t   # sets HUB_URL, HUB_PID
#   t0=$(bench_now); ...; bench_since "$t0"                      # seconds, 3 decimals
#   bench_median 3.1 2.9 3.0                                     # 3.000
#
# Everything here only touches what the caller started (pids it recorded,
# mountpoints it created).

bench_now() { date +%s.%N; }

# Seconds since $1 (a bench_now value), e.g. 1.234.
bench_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'; }

# Median of the arguments (the mean of the two middle values for an even count).
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
bench_min() { printf '%s\n' "$@" | sort -g | head -1; }
bench_max() { printf '%s\n' "$@" | sort -g | tail -1; }

# a / b with 2 decimals ("nan" when b is 0).
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.2f", a / b }'; }

# PASS when "$1 $2 $3" holds (op is <= or >=), else MISS.
bench_verdict() {
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        ok = (op == "<=") ? (v + 0 <= t + 0) : (v + 0 >= t + 0)
        print (v == "nan") ? "MISS" : (ok ? "PASS" : "MISS") }'
}

# Starts fakehub in the background: fakehub_start BINARY ROOT [ARGS...].
# Sets HUB_PID and HUB_URL; its output goes to $ROOT/../fakehub.{out,err}.
fakehub_start() {
    local bin=$1 root=$2
    shift 2
    local out
    out=$(dirname "$root")/fakehub
    "$bin" --root "$root" "$@" >"$out.out" 2>"$out.err" &
    HUB_PID=$!
    HUB_URL=
    for _ in $(seq 200); do
        HUB_URL=$(sed -n 's/^listening on //p' "$out.out" 2>/dev/null)
        [ -n "$HUB_URL" ] && return 0
        kill -0 "$HUB_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "fakehub did not start: $(cat "$out.err" 2>/dev/null)" >&2
    return 1
}

fakehub_stop() {
    if [ -n "${HUB_PID:-}" ]; then
        kill "$HUB_PID" 2>/dev/null
        wait "$HUB_PID" 2>/dev/null
        HUB_PID=
    fi
}

fakehub_reset_stats() { curl -sf -X POST "$HUB_URL/_fakehub/reset-stats" >/dev/null; }

# One line: "total=N route=n route=n ..." from /_fakehub/stats.
fakehub_stats_line() {
    curl -sf "$HUB_URL/_fakehub/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
routes = " ".join(f"{k}={v}" for k, v in sorted(s["routes"].items(), key=lambda kv: -kv[1]))
total, nm = s["requests"], s["not_modified"]
print(f"total={total} 304s={nm} {routes}")'
}

# The total request count from /_fakehub/stats.
fakehub_requests() {
    curl -sf "$HUB_URL/_fakehub/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])'
}

# A git client that ignores the user's configuration and never prompts.
bench_git() {
    GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 git "$@"
}

# Read throughput of a file in MB/s (MiB per second): bench_read_mbs FILE.
bench_read_mbs() {
    local f=$1 size t0 t
    size=$(stat -L -c %s "$f")
    t0=$(bench_now)
    dd if="$f" of=/dev/null bs=1M status=none
    t=$(bench_since "$t0")
    awk -v s="$size" -v t="$t" 'BEGIN { if (t <= 0) t = 0.0005; printf "%.1f", s / 1048576 / t }'
}
