#!/usr/bin/env bash
# Lays the real repositories of ../shared/corpus (git bundles of depth-1 clones) out as
# bare repos for fakehub: scripts/corpus.sh ROOT [OWNER] makes ROOT/OWNER/<repo>.git,
# each at its bundle's head commit. Idempotent.
#
# Why not the corpus's own unpack.sh: `git clone` of a bundle made from a shallow clone
# fails its connectivity check ("Failed to traverse parents of commit ...") because the
# commit's parent is not in the bundle. Here the repository is told it is shallow at that
# commit first, so the objects are taken as they are.
set -euo pipefail
corpus=${HEIMDALL_CORPUS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/corpus}
root=${1:?usage: corpus.sh ROOT [OWNER]}
owner=${2:-realworld}
[ -d "$corpus" ] || { echo "no corpus at $corpus (set HEIMDALL_CORPUS)" >&2; exit 1; }
mkdir -p "$root/$owner"
for bundle in "$corpus"/*.bundle; do
    name=$(basename "$bundle" .bundle)
    dst=$root/$owner/$name.git
    [ -d "$dst" ] && continue
    tmp=$(mktemp -d "$root/$owner/.$name.XXXXXX")
    git init -q --bare "$tmp"
    head=$(git bundle list-heads "$bundle" | awk '$2 ~ /^refs\/heads\// {print $1" "$2; exit}')
    sha=${head%% *} ref=${head#* }
    echo "$sha" >"$tmp/shallow"
    git -C "$tmp" bundle unbundle "$bundle" >/dev/null
    git -C "$tmp" update-ref "$ref" "$sha"
    git -C "$tmp" symbolic-ref HEAD "$ref"
    mv "$tmp" "$dst"
done
ls "$root/$owner"
