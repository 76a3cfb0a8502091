#!/usr/bin/env bash
# Lint, render and validate the Helm chart and the Dockerfile, then print the
# pytest summary. It needs python3 and access to PyPI, but no helm binary,
# Docker engine or Kubernetes cluster.
#
# Usage: bash scripts/check-helm.sh [extra pytest arguments]
#
# The packages go into a virtual environment under target/ (git-ignored),
# which later runs reuse while it matches helm/tests/requirements.txt.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

venv="target/helm-venv"
requirements="helm/tests/requirements.txt"
stamp="$venv/requirements.sha256"
python="${PYTHON:-python3}"

requirements_hash() {
    sha256sum "$requirements" | cut -d' ' -f1
}

venv_is_healthy() {
    [[ -x "$venv/bin/python" ]] \
        && [[ -f "$stamp" ]] \
        && [[ "$(cat "$stamp")" == "$(requirements_hash)" ]] \
        && "$venv/bin/python" -c 'import helm_python, kubernetes_validate, jsonschema, pytest, yaml' 2>/dev/null
}

create_venv() {
    echo "check-helm: creating $venv" >&2
    rm -rf "$venv"
    mkdir -p target
    if "$python" -m venv "$venv" 2>/dev/null; then
        return
    fi
    # Debian's python3 lacks ensurepip unless python3-venv is installed. The
    # virtualenv package bundles pip, so install it beside the venv and let it
    # build the environment instead.
    echo "check-helm: '$python -m venv' failed, using virtualenv from PyPI" >&2
    rm -rf "$venv" target/helm-virtualenv
    "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        --target target/helm-virtualenv "virtualenv==21.15.7"
    PYTHONPATH=target/helm-virtualenv "$python" -m virtualenv --quiet "$venv"
}

if ! venv_is_healthy; then
    create_venv
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    requirements_hash > "$stamp"
fi

# -p no:cacheprovider keeps pytest from writing .pytest_cache into the tree.
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest -p no:cacheprovider -q helm/tests "$@"
