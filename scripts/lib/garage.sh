# A three-node Garage cluster (an S3-compatible distributed object store) on loopback,
# for scripts/garage-shared.sh. Source it, then:
#   garage_start DIR   # nodes under DIR; sets GARAGE_ENDPOINT, GARAGE_KEY_ID,
#                      # GARAGE_SECRET, GARAGE_PIDS; bucket `team` exists, the key owns it
#   garage_stop
# Needs `garage` on PATH or $GARAGE (cargo install garage --locked
# --no-default-features --features bundled-libs,sqlite: ~20 minutes on 2 cores).
# Every object is stored on all three nodes (replication_factor 3).

GARAGE=${GARAGE:-$(command -v garage || true)}
GARAGE_PIDS=

garage_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

garage_start() {
    local dir=$1 secret i rpc s3 admin
    [ -x "$GARAGE" ] || { echo "garage not found: cargo install garage --locked --no-default-features --features bundled-libs,sqlite" >&2; return 1; }
    mkdir -p "$dir"
    # The cluster's own RPC secret, in config files only its nodes read (mode 0600).
    secret=$(openssl rand -hex 32)
    local first_rpc=
    for i in 1 2 3; do
        rpc=$(garage_free_port) s3=$(garage_free_port) admin=$(garage_free_port)
        mkdir -p "$dir/node$i/meta" "$dir/node$i/data"
        (umask 077; cat >"$dir/node$i.toml" <<TOML
metadata_dir = "$dir/node$i/meta"
data_dir = "$dir/node$i/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
        )
        "$GARAGE" -c "$dir/node$i.toml" server >"$dir/node$i.log" 2>&1 &
        GARAGE_PIDS="$GARAGE_PIDS $!"
        [ "$i" = 1 ] && { first_rpc=$rpc; GARAGE_ENDPOINT=http://127.0.0.1:$s3; }
    done
    GARAGE_PIDS=${GARAGE_PIDS# }
    local g1=("$GARAGE" -c "$dir/node1.toml") id
    for _ in $(seq 100); do "${g1[@]}" status >/dev/null 2>&1 && break; sleep 0.2; done
    for i in 2 3; do
        for _ in $(seq 100); do id=$("$GARAGE" -c "$dir/node$i.toml" node id -q 2>/dev/null) && break; sleep 0.2; done
        "${g1[@]}" node connect "$id" >/dev/null
    done
    for i in 1 2 3; do
        id=$("$GARAGE" -c "$dir/node$i.toml" node id -q)
        "${g1[@]}" layout assign -z "dc$i" -c 1G "${id%@*}" >/dev/null
    done
    "${g1[@]}" layout apply --version 1 >/dev/null
    "${g1[@]}" bucket create team >/dev/null
    local info
    info=$("${g1[@]}" key create heimdall-test)
    GARAGE_KEY_ID=$(awk '/Key ID:/ {print $3}' <<<"$info")
    GARAGE_SECRET=$(awk '/Secret key:/ {print $3}' <<<"$info")
    "${g1[@]}" bucket allow --read --write --owner team --key heimdall-test >/dev/null
    [ -n "$GARAGE_KEY_ID" ] && [ -n "$GARAGE_SECRET" ] || { echo "garage: \`key create\` printed no key id and secret" >&2; return 1; }
    export GARAGE_ENDPOINT GARAGE_KEY_ID GARAGE_SECRET GARAGE_PIDS
}

garage_stop() {
    local p
    for p in $GARAGE_PIDS; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    for p in $GARAGE_PIDS; do wait "$p" 2>/dev/null || true; done
    GARAGE_PIDS=
}
