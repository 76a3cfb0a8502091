#!/usr/bin/env bash
# Generates a Python client from proto/ with grpcio-tools and checks it against the real server
# binary: scripts/python_client_check.py creates a project, authorizes a request with each of
# its default tokens, and regenerates a token. Prints "python client: N passed, M failed" and
# exits non-zero on any failure.
#
# Needs cargo, python3 with pip, and access to PyPI. The packages go into a virtual environment
# under target/ (git-ignored), which later runs reuse while it matches
# scripts/python-client-requirements.txt. The server runs with the in-memory store on a free
# loopback port and is stopped on exit.
#
# Usage: bash scripts/check-python-client.sh
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

python="${PYTHON:-python3}"
venv="target/python-client-venv"
requirements="scripts/python-client-requirements.txt"
stamp="$venv/requirements.sha256"
generated="target/python-client"
server_log="target/python-client-server.log"
server_bin="${CARGO_TARGET_DIR:-target}/debug/token-authority"

# Polls of the server log for its address, 0.1 s apart: at most 30 s in all.
start_polls=300
# Polls for the server's exit after SIGTERM, 0.1 s apart, before it is killed.
stop_polls=100

log() {
    echo "check-python-client: $*" >&2
}

requirements_hash() {
    sha256sum "$requirements" | cut -d' ' -f1
}

venv_matches_requirements() {
    [[ -x "$venv/bin/python" && -f "$stamp" ]] \
        && [[ "$(cat "$stamp")" == "$(requirements_hash)" ]] \
        && "$venv/bin/python" -c 'import grpc, grpc_tools.protoc, google.protobuf' 2>/dev/null
}

create_venv() {
    log "creating $venv"
    rm -rf "$venv"
    mkdir -p target
    if "$python" -m venv "$venv" 2>/dev/null; then
        return
    fi
    # Debian's python3 has no ensurepip unless python3-venv is installed, so `venv` cannot add
    # pip. The virtualenv package brings its own pip: install it under target/ and let it build
    # the environment.
    log "'$python -m venv' failed; building the environment with virtualenv from PyPI"
    rm -rf "$venv" target/python-client-virtualenv
    "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        --target target/python-client-virtualenv "virtualenv==21.15.7"
    PYTHONPATH=target/python-client-virtualenv "$python" -m virtualenv --quiet "$venv"
}

if ! venv_matches_requirements; then
    create_venv
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    requirements_hash >"$stamp"
fi

log "generating the client from proto/ into $generated"
rm -rf "$generated"
mkdir -p "$generated"
# grpc_tools.protoc adds the well-known types (google/protobuf/*.proto) to the include path.
"$venv/bin/python" -m grpc_tools.protoc -I proto \
    --python_out="$generated" --grpc_python_out="$generated" \
    proto/tokenauthority/v1/token_authority.proto

log "building the server"
cargo build --locked --quiet --bin token-authority

server_pid=""
stop_server() {
    [[ -n "$server_pid" ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || return 0
    for _ in $(seq "$stop_polls"); do
        kill -0 "$server_pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "the server did not stop within 10 s of SIGTERM; killing it"
    kill -KILL "$server_pid" 2>/dev/null || true
}
trap stop_server EXIT

"$server_bin" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --log-format json >/dev/null \
    2>"$server_log" &
server_pid=$!

# The server logs {"message": "serving gRPC", "address": "127.0.0.1:PORT"} once it listens.
read_address='
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if event.get("message") == "serving gRPC":
        print(event["address"])
        break
'
address=""
for _ in $(seq "$start_polls"); do
    address="$("$venv/bin/python" -c "$read_address" "$server_log")"
    [[ -n "$address" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        log "the server exited before serving; its log:"
        cat "$server_log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$address" ]]; then
    log "the server logged no \"serving gRPC\" line within 30 s; its log:"
    cat "$server_log" >&2
    exit 1
fi

log "checking the client against the server at $address"
PYTHONPATH="$generated" "$venv/bin/python" scripts/python_client_check.py "$address"
