#!/usr/bin/env bash
# Lints the protos in proto/ with buf, using buf.yaml at the repository root: buf's standard
# rules except the few listed there, each with its reason.
#
# Needs node and npm and access to the npm registry. buf comes from the npm package
# @bufbuild/buf at a pinned version, installed under target/ (git-ignored) and reused while the
# version matches; nothing is installed globally.
#
# Usage: bash scripts/check-proto.sh
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

buf_version="1.75.0"
prefix="target/buf-tool"
buf="$prefix/node_modules/.bin/buf"

if [[ ! -x "$buf" || "$("$buf" --version 2>/dev/null)" != "$buf_version" ]]; then
    echo "check-proto: installing @bufbuild/buf@$buf_version into $prefix" >&2
    rm -rf "$prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
        "@bufbuild/buf@$buf_version"
fi

"$buf" lint
echo "check-proto: buf lint passed"
