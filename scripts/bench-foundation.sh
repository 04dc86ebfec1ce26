#!/usr/bin/env bash
# Foundation benchmark: requests per operation, large-blob throughput and peak memory.
# Everything runs against a local fakehub; figures are ratios against baselines measured
# in the same run (the machine is shared and noisy).
#
#   scripts/bench-foundation.sh            # 100 MB blob
#   BIG_MB=200 scripts/bench-foundation.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIG_MB=${BIG_MB:-100}
SMALL_MB=${SMALL_MB:-10}
TOKEN=bench-token

cargo build --release -q -p heimdall -p fakehub
HEIMDALL=$PWD/target/release/heimdall
FAKEHUB=$PWD/target/release/fakehub

work=$(mktemp -d)
cleanup() { [ -n "${hub_pid:-}" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Repositories built with plain git: one with a big and a small blob, one sharing content.
make_repo() { # owner name -- files are created by the caller in $work/src-<name>
    local owner=$1 name=$2 src=$work/src-$2
    git init -q --bare -b main "$work/root/$owner/$name.git"
    git -C "$src" init -q -b main
    git -C "$src" add -A
    git -C "$src" -c user.name=bench -c user.email=b@x commit -q -m bench
    git -C "$src" push -q "$work/root/$owner/$name.git" main
}
mkdir -p "$work/src-big/src" "$work/src-copy"
head -c $((BIG_MB << 20)) /dev/urandom >"$work/src-big/big.bin"
head -c $((SMALL_MB << 20)) /dev/urandom >"$work/src-big/small.bin"
for i in $(seq 1 50); do echo "print($i)" >"$work/src-big/src/m$i.py"; done
cp "$work/src-big/src/m1.py" "$work/src-copy/same.py"
make_repo bench big
make_repo bench copy
big_sha=$(git -C "$work/root/bench/big.git" rev-parse main:big.bin)

"$FAKEHUB" --root "$work/root" --token "$TOKEN" >"$work/hub.out" 2>"$work/hub.err" &
hub_pid=$!
for _ in $(seq 100); do grep -q listening "$work/hub.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/hub.out")
export HEIMDALL_API_URL=$url GITHUB_TOKEN=$TOKEN

stat_reset() { curl -s -X POST "$url/_fakehub/reset-stats" >/dev/null; }
stat_line() { curl -s "$url/_fakehub/stats" | jq -r '[.requests, .counted, .not_modified, (.routes|to_entries|map("\(.key)=\(.value)")|join(" "))] | "requests=\(.[0]) counted=\(.[1]) 304s=\(.[2])  \(.[3])"'; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

echo "== requests per operation (fresh cache)"
export HEIMDALL_CACHE_DIR=$work/cache1
for op in "tree -r bench/big" "tree -r bench/big" "cat bench/big/src/m1.py" "cat bench/big/src/m1.py" "cat bench/copy/same.py" "repos bench" "repos bench"; do
    stat_reset
    # shellcheck disable=SC2086
    $HEIMDALL -q $op >/dev/null
    printf '%-28s %s\n' "$op" "$(stat_line)"
done

echo
echo "== large blob: ${BIG_MB} MB download, heimdall cold vs curl of the same raw blob"
curl_t0=$(now)
curl -s -H "Authorization: Bearer $TOKEN" -H 'Accept: application/vnd.github.raw+json' \
    "$url/repos/bench/big/git/blobs/$big_sha" -o /dev/null
curl_t=$(secs "$curl_t0" "$(now)")
export HEIMDALL_CACHE_DIR=$work/cache2
$HEIMDALL -q tree bench/big >/dev/null
cold_t0=$(now)
/usr/bin/time -f %M -o "$work/rss-big" $HEIMDALL -q cat bench/big/big.bin >/dev/null
cold_t=$(secs "$cold_t0" "$(now)")
warm_t0=$(now)
$HEIMDALL -q cat bench/big/big.bin >/dev/null
warm_t=$(secs "$warm_t0" "$(now)")
obj=$work/cache2/objects-v1/${big_sha:0:2}/$big_sha
cat_t0=$(now)
cat "$obj" >/dev/null
cat_t=$(secs "$cat_t0" "$(now)")
printf 'curl (baseline)     %6.2fs  %7.1f MB/s\n' "$curl_t" "$(echo "$BIG_MB / $curl_t" | bc -l)"
printf 'heimdall cat cold   %6.2fs  %7.1f MB/s  ratio to curl: %.2fx throughput\n' "$cold_t" "$(echo "$BIG_MB / $cold_t" | bc -l)" "$(echo "$curl_t / $cold_t" | bc -l)"
printf 'heimdall cat warm   %6.2fs  %7.1f MB/s  ratio to cat of the object: %.2fx time\n' "$warm_t" "$(echo "$BIG_MB / $warm_t" | bc -l)" "$(echo "$warm_t / $cat_t" | bc -l)"

echo
echo "== peak memory (max RSS), cold downloads"
export HEIMDALL_CACHE_DIR=$work/cache3
/usr/bin/time -f %M -o "$work/rss-base" $HEIMDALL -q tree bench/big >/dev/null
/usr/bin/time -f %M -o "$work/rss-small" $HEIMDALL -q cat bench/big/small.bin >/dev/null
base=$(cat "$work/rss-base"); small=$(cat "$work/rss-small"); big=$(cat "$work/rss-big")
printf 'heimdall tree (no download)   %6d KB\n' "$base"
printf 'cat %4d MB blob               %6d KB\n' "$SMALL_MB" "$small"
printf 'cat %4d MB blob               %6d KB  (%.2fx the %d MB download: flat)\n' "$BIG_MB" "$big" "$(echo "$big / $small" | bc -l)" "$SMALL_MB"
