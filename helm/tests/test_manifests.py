"""Assertions on the rendered manifests: probes, secrets, hardening, rollout."""

from __future__ import annotations

import base64

import helm_python
import pytest
import yaml

from chart_render import (
    CHART_DIR,
    NOTES_PATH,
    config_checksum,
    find,
    load_value_set,
    manifests,
    merge,
    pod_specs,
    render,
    server_container,
    value_set_names,
)

READINESS_SERVICE = "tokenauthority.v1.TokenAuthority"

# Passwords and admin tokens in the value sets. None may appear outside a Secret.
TEST_PASSWORDS = [
    "url-test-password-7Qm2",
    "trial-test-password-4Kx9",
    "cluster-test-password-8Jd3",
    "all-features-admin-token-5Wq7",
]

SERVER_OPTIONS = [
    "TOKEN_AUTHORITY_LISTEN",
    "TOKEN_AUTHORITY_REDIS_CLUSTER",
    "TOKEN_AUTHORITY_REDIS_POOL_SIZE",
    "TOKEN_AUTHORITY_REDIS_TIMEOUT_MS",
    "TOKEN_AUTHORITY_SYSTEM_LIMIT",
    "TOKEN_AUTHORITY_SYSTEM_LIMIT_WINDOW_SECONDS",
    "TOKEN_AUTHORITY_LOG_FORMAT",
    "TOKEN_AUTHORITY_LOG_LEVEL",
    "TOKEN_AUTHORITY_SHUTDOWN_TIMEOUT_SECONDS",
    "TOKEN_AUTHORITY_METRICS_LISTEN",
]


def external_url_values(**overrides):
    return merge(load_value_set("external-url"), overrides)


def decoded_secret(objects, name):
    secret = find(objects, "Secret", name)
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def grpc_port(container):
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    return ports["grpc"]


# Probes


@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe"])
def test_process_probes_ask_empty_service(probe):
    container = server_container(manifests(external_url_values()))

    assert set(container[probe]) >= {"grpc"}
    assert not {"httpGet", "tcpSocket", "exec"} & set(container[probe])
    assert container[probe]["grpc"]["port"] == grpc_port(container)
    assert container[probe]["grpc"]["service"] == ""


def test_readiness_probe_asks_store_service():
    container = server_container(manifests(external_url_values()))
    probe = container["readinessProbe"]

    assert not {"httpGet", "tcpSocket", "exec"} & set(probe)
    assert probe["grpc"]["port"] == grpc_port(container)
    assert probe["grpc"]["service"] == READINESS_SERVICE


def test_probes_follow_grpc_port():
    objects = manifests(external_url_values(containerPorts={"grpc": 6000}))
    container = server_container(objects)
    configmap = find(objects, "ConfigMap")

    assert grpc_port(container) == 6000
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"]["port"] == 6000, probe
    assert configmap["data"]["TOKEN_AUTHORITY_LISTEN"] == "0.0.0.0:6000"


# Configuration and secrets


def test_configmap_sets_every_server_option():
    objects = manifests(external_url_values())
    configmap = find(objects, "ConfigMap")
    container = server_container(objects)

    assert sorted(configmap["data"]) == sorted(SERVER_OPTIONS)
    assert container["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]


def test_configmap_values_from_config():
    values = external_url_values(
        config={"systemLimit": 1200, "systemLimitWindowSeconds": 300, "logLevel": "token_authority=debug"}
    )
    data = find(manifests(values), "ConfigMap")["data"]

    assert data["TOKEN_AUTHORITY_SYSTEM_LIMIT"] == "1200"
    assert data["TOKEN_AUTHORITY_SYSTEM_LIMIT_WINDOW_SECONDS"] == "300"
    assert data["TOKEN_AUTHORITY_LOG_LEVEL"] == "token_authority=debug"
    assert data["TOKEN_AUTHORITY_REDIS_CLUSTER"] == "false"


@pytest.mark.parametrize("value_set", value_set_names())
def test_no_password_outside_secrets(value_set):
    for item in manifests(load_value_set(value_set)):
        if item["kind"] == "Secret":
            continue
        text = yaml.safe_dump(item)
        for password in TEST_PASSWORDS:
            assert password not in text, f"{password} in {item['kind']} {item['metadata']['name']}"


@pytest.mark.parametrize("value_set", value_set_names())
def test_no_password_in_notes(value_set):
    notes = render(load_value_set(value_set))[NOTES_PATH]

    for password in TEST_PASSWORDS:
        assert password not in notes


def test_redis_url_value_goes_to_chart_secret():
    values = external_url_values()
    objects = manifests(values)
    container = server_container(objects)
    env = {variable["name"]: variable for variable in container["env"]}

    assert decoded_secret(objects, "ta-token-authority")["redis-url"] == values["redis"]["url"]
    assert env["TOKEN_AUTHORITY_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "ta-token-authority",
        "key": "redis-url",
    }
    assert "value" not in env["TOKEN_AUTHORITY_REDIS_URL"]


def test_existing_secret_is_referenced():
    objects = manifests(load_value_set("existing-secret"))
    env = {variable["name"]: variable for variable in server_container(objects)["env"]}

    assert [item for item in objects if item["kind"] == "Secret"] == []
    assert env["TOKEN_AUTHORITY_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "token-authority-redis",
        "key": "url",
    }


def test_trial_redis_url_points_at_trial_service():
    objects = manifests(load_value_set("trial-redis"))
    redis_service = find(objects, "Service", "ta-token-authority-redis")
    secret = decoded_secret(objects, "ta-token-authority")

    assert redis_service["spec"]["ports"][0]["port"] == 6379
    assert secret["redis-url"] == (
        "redis://:trial-test-password-4Kx9@ta-token-authority-redis.auth.svc:6379/0"
    )


def test_trial_redis_config():
    objects = manifests(load_value_set("trial-redis"))
    config_lines = decoded_secret(objects, "ta-token-authority")["redis.conf"].splitlines()

    assert "appendonly yes" in config_lines
    assert "dir /data" in config_lines
    assert "maxmemory-policy noeviction" in config_lines
    assert "requirepass trial-test-password-4Kx9" in config_lines


def test_trial_redis_keeps_data_on_volume():
    statefulset = find(manifests(load_value_set("trial-redis")), "StatefulSet")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    claim = statefulset["spec"]["volumeClaimTemplates"][0]

    assert statefulset["spec"]["replicas"] == 1
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_server_selector_excludes_trial_redis():
    objects = manifests(load_value_set("trial-redis"))
    selector = find(objects, "Deployment")["spec"]["selector"]["matchLabels"]
    redis_labels = find(objects, "StatefulSet")["spec"]["template"]["metadata"]["labels"]

    assert not selector.items() <= redis_labels.items()


def test_in_memory_store_runs_one_pod():
    objects = manifests(load_value_set("in-memory"))
    deployment = find(objects, "Deployment")
    env_names = [variable["name"] for variable in server_container(objects).get("env", [])]

    assert deployment["spec"]["replicas"] == 1
    assert "TOKEN_AUTHORITY_REDIS_URL" not in env_names
    assert "in-memory store" in render(load_value_set("in-memory"))[NOTES_PATH]


# Store errors

STORE_ERRORS = {
    "no redis": ({}, "no Redis is configured"),
    "url and secret": (
        {"redis": {"url": "redis://:x@h:6379/0", "existingSecret": "s"}},
        "redis.existingSecret and redis.url are both set",
    ),
    "trial and url": (
        {"redis": {"url": "redis://:x@h:6379/0"}, "redisTrial": {"enabled": True, "password": "p" * 16}},
        "use either the trial Redis or an external Redis",
    ),
    "trial without password": ({"redisTrial": {"enabled": True}}, "redisTrial.password is missing"),
    "trial as cluster": (
        {"redisTrial": {"enabled": True, "password": "p" * 16}, "config": {"redisCluster": True}},
        "not a Redis Cluster",
    ),
    "in-memory autoscaling": (
        {"allowInMemoryStore": True, "autoscaling": {"enabled": True}},
        "the in-memory store serves a single pod",
    ),
    "monitor without metrics": (
        {"redis": {"existingSecret": "s"}, "metrics": {"enabled": False}, "serviceMonitor": {"enabled": True}},
        "set metrics.enabled=true",
    ),
    "both disruption limits": (
        {
            "redis": {"existingSecret": "s"},
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1, "maxUnavailable": 1},
        },
        "are both set",
    ),
}


@pytest.mark.parametrize("case", sorted(STORE_ERRORS))
def test_render_rejects_bad_setup(case):
    values, message = STORE_ERRORS[case]

    with pytest.raises(helm_python.HelmRenderError, match=message):
        render(values)


# Hardening


@pytest.mark.parametrize("value_set", value_set_names())
def test_every_container_hardened(value_set):
    workloads = pod_specs(manifests(load_value_set(value_set)))
    assert workloads

    for workload, pod in workloads:
        assert pod["securityContext"]["runAsNonRoot"] is True, workload
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, workload
        assert pod["automountServiceAccountToken"] is False, workload
        for container in pod["containers"] + pod.get("initContainers", []):
            where = f"{workload}/{container['name']}"
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where


@pytest.mark.parametrize("value_set", ["external-url", "trial-redis"])
def test_every_container_has_resources(value_set):
    for workload, pod in pod_specs(manifests(load_value_set(value_set))):
        for container in pod["containers"]:
            where = f"{workload}/{container['name']}"
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, where


def test_pods_spread_across_nodes():
    pod = find(manifests(external_url_values()), "Deployment")["spec"]["template"]["spec"]
    constraint = pod["topologySpreadConstraints"][0]

    assert constraint["topologyKey"] == "kubernetes.io/hostname"
    assert constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"


# Rollout and shutdown


def test_checksum_changes_with_config():
    before = config_checksum(external_url_values())
    after = config_checksum(external_url_values(config={"logLevel": "debug"}))

    assert before != after


def test_checksum_changes_with_redis_url():
    before = config_checksum(external_url_values())
    after = config_checksum(external_url_values(redis={"url": "redis://:other@redis.example.internal:6379/1"}))

    assert before != after


def test_checksum_stable_for_same_config():
    first = config_checksum(external_url_values())

    assert config_checksum(external_url_values()) == first
    assert config_checksum(external_url_values(replicaCount=5)) == first


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"config": {"shutdownTimeoutSeconds": 45}, "preStopSleepSeconds": 10},
        {"config": {"shutdownTimeoutSeconds": 0}, "preStopSleepSeconds": 1},
    ],
    ids=["defaults", "long drain", "no drain"],
)
def test_grace_period_covers_shutdown(overrides):
    values = external_url_values(**overrides)
    merged = helm_python.Chart.load(CHART_DIR).merge_values(values)
    pod = find(manifests(values), "Deployment")["spec"]["template"]["spec"]
    container = server_container(manifests(values))
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]

    assert pre_stop == merged["preStopSleepSeconds"]
    assert pod["terminationGracePeriodSeconds"] > merged["config"]["shutdownTimeoutSeconds"] + pre_stop


def test_explicit_grace_period_kept():
    pod = find(manifests(external_url_values(terminationGracePeriodSeconds=90)), "Deployment")

    assert pod["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 90


def test_short_grace_period_rejected():
    with pytest.raises(helm_python.HelmRenderError, match="must be larger than"):
        render(external_url_values(terminationGracePeriodSeconds=25))


def test_chart_requires_sleep_action_version():
    assert helm_python.Chart.load(CHART_DIR).metadata["kubeVersion"] == ">=1.30.0-0"


# Service, metrics and scaling


def test_service_has_metrics_port_by_default():
    objects = manifests(external_url_values())
    service = find(objects, "Service")
    container_ports = {port["name"]: port["containerPort"] for port in server_container(objects)["ports"]}

    assert service["spec"]["ports"] == [
        {"name": "grpc", "port": 50051, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "grpc"},
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP", "appProtocol": "http"},
    ]
    assert container_ports == {"grpc": 50051, "metrics": 9090}
    assert find(objects, "ConfigMap")["data"]["TOKEN_AUTHORITY_METRICS_LISTEN"] == "0.0.0.0:9090"


def test_metrics_disabled_turns_endpoint_off():
    objects = manifests(external_url_values(metrics={"enabled": False}))
    service = find(objects, "Service")

    assert [port["name"] for port in service["spec"]["ports"]] == ["grpc"]
    assert [port["name"] for port in server_container(objects)["ports"]] == ["grpc"]
    assert find(objects, "ConfigMap")["data"]["TOKEN_AUTHORITY_METRICS_LISTEN"] == "off"


def test_metrics_port_follows_values():
    values = external_url_values(config={"listenHost": "[::]"}, metrics={"port": 9100})
    objects = manifests(values)

    assert find(objects, "ConfigMap")["data"]["TOKEN_AUTHORITY_METRICS_LISTEN"] == "[::]:9100"
    assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in server_container(objects)["ports"]


def test_metrics_port_gated():
    objects = manifests(load_value_set("all-features"))
    container_ports = [port["name"] for port in server_container(objects)["ports"]]
    service_ports = [port["name"] for port in find(objects, "Service")["spec"]["ports"]]
    policy = find(objects, "NetworkPolicy")
    ingress_ports = [rule["ports"][0]["port"] for rule in policy["spec"]["ingress"]]

    assert container_ports == ["grpc", "metrics"]
    assert service_ports == ["grpc", "metrics"]
    assert ingress_ports == [50051, 9090]


def test_metrics_rule_absent_when_disabled():
    objects = manifests(external_url_values(metrics={"enabled": False}, networkPolicy={"enabled": True}))
    policy = find(objects, "NetworkPolicy")

    assert [rule["ports"][0]["port"] for rule in policy["spec"]["ingress"]] == [50051]


def test_autoscaler_owns_replica_count():
    objects = manifests(load_value_set("all-features"))
    autoscaler = find(objects, "HorizontalPodAutoscaler")
    metrics = [metric["resource"]["name"] for metric in autoscaler["spec"]["metrics"]]

    assert "replicas" not in find(objects, "Deployment")["spec"]
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "ta-token-authority"
    assert metrics == ["cpu", "memory"]


def test_disruption_budget_defaults_to_one_unavailable():
    objects = manifests(external_url_values(podDisruptionBudget={"enabled": True}))
    budget = find(objects, "PodDisruptionBudget")["spec"]

    assert budget["maxUnavailable"] == 1
    assert "minAvailable" not in budget


def test_trial_redis_reachable_only_from_server():
    objects = manifests(load_value_set("trial-redis-network-policy"))
    policy = find(objects, "NetworkPolicy", "ta-token-authority-redis")
    server_labels = find(objects, "Deployment")["spec"]["selector"]["matchLabels"]

    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": server_labels}}],
            "ports": [{"port": 6379, "protocol": "TCP"}],
        }
    ]
    assert "egress" not in policy["spec"]
