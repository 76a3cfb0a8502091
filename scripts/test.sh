#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, and every test (unit, property, Lua scripts
# against a private redis-server, gRPC behaviour against both stores, and the real binary).
# Needs a Rust toolchain and redis-server on PATH (Debian: apt-get install redis-server). The
# generated-client and proto checks also need python3 with pip and node with npm, and fetch
# pinned packages from PyPI and the npm registry into target/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "error: redis-server is not on PATH; the tests start their own private Redis." >&2
  echo "Install it first, for example: sudo apt-get install redis-server" >&2
  exit 1
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --all-targets --locked

echo "==> Python client generated from the protos"
bash scripts/check-python-client.sh

echo "==> buf lint"
bash scripts/check-proto.sh

echo "==> Helm chart and Dockerfile checks"
bash scripts/check-helm.sh
