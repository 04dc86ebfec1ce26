#!/usr/bin/env bash
# Builds heimdall and runs its main job end to end on this machine: a small org served by
# fakehub (GitHub's REST API over real git repos) is mounted, browsed, read, linted (and
# fixed: the repository is a working copy, its changes stay local), then unmounted. Against GitHub itself: `heimdall mount /tmp/gh --org OWNER`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p heimdall -p fakehub
bin=$PWD/target/release
work=$(mktemp -d)
cleanup() {
    fusermount3 -u "$work/mnt" 2>/dev/null || true
    HEIMDALL_CACHE_DIR=$work/cache "$bin/heimdall" -q daemon stop 2>/dev/null || true
    [ -n "${hub:-}" ] && kill "$hub" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Two repositories, made with plain git.
for repo in api web; do
    git init -q --bare -b main "$work/root/acme/$repo.git"
    src=$work/src-$repo
    mkdir -p "$src/src/$repo"
    printf '[project]\nname = "%s"\n\n[tool.ruff.lint]\nselect = ["E", "F"]\n' "$repo" >"$src/pyproject.toml"
    printf 'import os\n\n\ndef hello(name: str) -> str:\n    return f"hello {name}"\n' >"$src/src/$repo/app.py"
    git -C "$src" init -q -b main && git -C "$src" add -A
    git -C "$src" -c user.name=demo -c user.email=demo@example.com commit -qm init
    git -C "$src" push -q "$work/root/acme/$repo.git" main
done

"$bin/fakehub" --root "$work/root" --token demo >"$work/hub.out" 2>/dev/null &
hub=$!
for _ in $(seq 100); do grep -q listening "$work/hub.out" 2>/dev/null && break; sleep 0.1; done
export HEIMDALL_API_URL=$(sed -n 's/^listening on //p' "$work/hub.out")
export HEIMDALL_CACHE_DIR=$work/cache GITHUB_TOKEN=demo
mkdir "$work/mnt"

set -x
"$bin/heimdall" mount "$work/mnt" --org acme
ls -l "$work/mnt/acme"
ls "$work/mnt"/acme/*/pyproject.toml
cat "$work/mnt/acme/api/src/api/app.py"
getfattr -n user.heimdall.url "$work/mnt/acme/api/src/api/app.py" 2>/dev/null \
    || python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'user.heimdall.url').decode())" "$work/mnt/acme/api/src/api/app.py"
# The repository is a working copy: ruff writes its cache there, an edit stays local.
if command -v ruff >/dev/null; then (cd "$work/mnt/acme/api" && ruff check . || true; ruff check --fix . || true); fi
echo '# local note' >> "$work/mnt/acme/api/README.md"
"$bin/heimdall" changes list
"$bin/heimdall" changes diff "$work/mnt/acme/api" | head -40
"$bin/heimdall" cache stats
"$bin/heimdall" unmount "$work/mnt"
