"""Lint the chart, render it with each value set, and validate every manifest.

Built-in kinds are validated by kubernetes-validate in strict mode, which
also rejects unknown fields. The ServiceMonitor is a Prometheus Operator CRD
that kubernetes-validate has no schema for, so its structure is checked here.
"""

from __future__ import annotations

import copy

import helm_python
import kubernetes_validate
import pytest

from chart_render import (
    CHART_DIR,
    KUBERNETES_VERSION,
    find,
    kinds,
    load_value_set,
    manifests,
    value_set_names,
)

# Kinds each value set must render, so a template that silently renders
# nothing fails here.
EXPECTED_KINDS = {
    "external-url": ["ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount"],
    "existing-secret": ["ConfigMap", "Deployment", "Service", "ServiceAccount"],
    "trial-redis": [
        "ConfigMap",
        "Deployment",
        "Secret",
        "Service",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    ],
    "trial-redis-network-policy": [
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "NetworkPolicy",
        "Secret",
        "Service",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    ],
    "all-features": [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ],
    "in-memory": ["ConfigMap", "Deployment", "Service", "ServiceAccount"],
}

CUSTOM_RESOURCE_KINDS = {"ServiceMonitor"}


def test_every_value_set_has_expected_kinds():
    assert sorted(EXPECTED_KINDS) == value_set_names()


@pytest.mark.parametrize("value_set", value_set_names())
def test_lint_reports_no_problems(value_set):
    report = helm_python.lint(
        CHART_DIR,
        load_value_set(value_set),
        strict=True,
        kube_version=f"v{KUBERNETES_VERSION}",
    )

    assert report["errors"] == []
    # Severity 1 is informational, e.g. "icon is recommended".
    problems = [message for message in report["messages"] if message["severity"] >= 2]
    assert problems == []


@pytest.mark.parametrize("value_set", value_set_names())
def test_value_set_renders_expected_kinds(value_set):
    objects = manifests(load_value_set(value_set))

    assert kinds(objects) == EXPECTED_KINDS[value_set]


@pytest.mark.parametrize("value_set", value_set_names())
def test_manifests_valid_for_kubernetes(value_set):
    objects = manifests(load_value_set(value_set))

    for item in objects:
        if item["kind"] in CUSTOM_RESOURCE_KINDS:
            continue
        validated = kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        assert validated == "1.37", f"{item['kind']} validated against {validated}"


@pytest.mark.parametrize("value_set", value_set_names())
def test_manifests_set_release_namespace(value_set):
    for item in manifests(load_value_set(value_set)):
        assert item["metadata"]["namespace"] == "auth", item["kind"]


def test_validator_rejects_unknown_field():
    """Check that strict validation rejects an unknown field, so its passes mean something."""
    deployment = copy.deepcopy(find(manifests(load_value_set("external-url")), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["grpc"]["serviceName"] = ""

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_servicemonitor_matches_service():
    objects = manifests(load_value_set("all-features"))
    monitor = find(objects, "ServiceMonitor")
    service = find(objects, "Service")

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"

    selector = monitor["spec"]["selector"]["matchLabels"]
    service_labels = service["metadata"]["labels"]
    assert selector
    assert selector.items() <= service_labels.items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["auth"]}

    service_ports = {port["name"]: port for port in service["spec"]["ports"]}
    endpoints = monitor["spec"]["endpoints"]
    assert len(endpoints) == 1
    assert endpoints[0]["port"] == "metrics"
    assert endpoints[0]["port"] in service_ports
    assert endpoints[0]["path"] == "/metrics"


def test_servicemonitor_selects_no_redis_service():
    values = load_value_set("all-features")
    del values["redis"]
    values["config"]["redisCluster"] = False
    values["redisTrial"] = {"enabled": True, "password": "trial-test-password-4Kx9"}
    objects = manifests(values)
    selector = find(objects, "ServiceMonitor")["spec"]["selector"]["matchLabels"]

    selected = [
        item["metadata"]["name"]
        for item in objects
        if item["kind"] == "Service" and selector.items() <= item["metadata"]["labels"].items()
    ]
    assert selected == ["ta-token-authority"]
