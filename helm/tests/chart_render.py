"""Render the token-authority chart offline with the Helm engine of helm-python-sdk."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import helm_python
import yaml

TESTS_DIR = Path(__file__).resolve().parent
CHART_DIR = TESTS_DIR.parent / "token-authority"
VALUE_SETS_DIR = TESTS_DIR / "values"
REPO_ROOT = TESTS_DIR.parent.parent

RELEASE_NAME = "ta"
NAMESPACE = "auth"

# Newest Kubernetes version whose schemas kubernetes-validate 1.37.0 ships.
KUBERNETES_VERSION = "1.37.0"

NOTES_PATH = "token-authority/templates/NOTES.txt"


@functools.cache
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART_DIR)


def value_set_names() -> list[str]:
    return sorted(path.stem for path in VALUE_SETS_DIR.glob("*.yaml"))


def load_value_set(name: str) -> dict[str, Any]:
    """Return a fresh copy of helm/tests/values/NAME.yaml, safe to modify."""
    return copy.deepcopy(_read_value_set(name))


@functools.cache
def _read_value_set(name: str) -> dict[str, Any]:
    with open(VALUE_SETS_DIR / f"{name}.yaml", encoding="utf-8") as file:
        return yaml.safe_load(file) or {}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge override into a copy of base, mapping by mapping, as Helm does with -f files."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def render(values: dict[str, Any]) -> dict[str, str]:
    """Render every template and return a mapping of template path to rendered text.

    Raises helm_python.HelmValuesError when the values break the schema and
    helm_python.HelmRenderError when a template fails, e.g. on a `fail` call.
    """
    return chart().render(values, name=RELEASE_NAME, namespace=NAMESPACE, is_install=True)


def manifests(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Render and parse every Kubernetes object, leaving out NOTES.txt."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(render(values).items()):
        if path == NOTES_PATH:
            continue
        objects.extend(document for document in yaml.safe_load_all(text) if document)
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """Return the only object of a kind, and of a name if given. Fails unless exactly one matches."""
    matches = [
        item
        for item in objects
        if item["kind"] == kind and (name is None or item["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def kinds(objects: list[dict[str, Any]]) -> list[str]:
    return sorted(item["kind"] for item in objects)


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Return (workload name, pod spec) for every Deployment and StatefulSet."""
    return [
        (item["metadata"]["name"], item["spec"]["template"]["spec"])
        for item in objects
        if item["kind"] in ("Deployment", "StatefulSet")
    ]


def server_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = find(objects, "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(container for container in containers if container["name"] == "token-authority")


def config_checksum(values: dict[str, Any]) -> str:
    deployment = find(manifests(values), "Deployment")
    return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
