"""Check the Dockerfile with hadolint and against what the chart expects of the image.

No Docker engine runs where these checks run, so the image itself is not
built here: hadolint and the assertions below read the Dockerfile only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from chart_render import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"


def instructions():
    """Return (INSTRUCTION, arguments) pairs, with continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        instruction, _, arguments = stripped.partition(" ")
        pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def final_stage():
    pairs = instructions()
    last_from = max(index for index, (instruction, _) in enumerate(pairs) if instruction == "FROM")
    return pairs[last_from:]


def test_hadolint_clean():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is missing from the virtual environment"

    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr


def test_builder_builds_locked_release_binaries():
    runs = " ".join(arguments for instruction, arguments in instructions() if instruction == "RUN")

    assert "cargo build --release --locked --bin token-authority --bin tokenctl" in runs
    assert "cp target/release/tokenctl /out/" in runs


def test_runtime_stage_is_distroless_nonroot():
    stage = final_stage()
    base = stage[0][1]
    users = [arguments for instruction, arguments in stage if instruction == "USER"]

    assert base.startswith("gcr.io/distroless/cc-")
    assert users == ["65532:65532"]


def test_runtime_stage_serves_grpc_and_metrics_ports():
    stage = dict(final_stage()[1:])

    assert stage["EXPOSE"] == "50051 9090"
    assert stage["ENTRYPOINT"] == '["/usr/local/bin/token-authority"]'
