"""The admin token of the management RPCs: where it is stored, how the pods read it, and when
the pods roll."""

from __future__ import annotations

import base64

import helm_python
import pytest
import yaml

from chart_render import (
    NOTES_PATH,
    config_checksum,
    find,
    load_value_set,
    manifests,
    merge,
    render,
    server_container,
)

ADMIN_TOKEN = "admin-test-token-9Zr4c6Lh"
TOKEN_FILE = "/etc/token-authority/admin-token/admin-token"


def with_admin(value_set="external-url", **admin_token):
    return merge(load_value_set(value_set), {"adminToken": admin_token})


def env_by_name(container):
    return {variable["name"]: variable for variable in container.get("env", [])}


def pod_spec(objects):
    return find(objects, "Deployment")["spec"]["template"]["spec"]


def admin_volume(objects):
    volumes = [volume for volume in pod_spec(objects).get("volumes", []) if volume["name"] == "admin-token"]
    assert len(volumes) == 1, f"expected one admin-token volume, found {volumes}"
    return volumes[0]


def test_value_goes_to_chart_secret_only():
    objects = manifests(with_admin(value=ADMIN_TOKEN))
    secret = find(objects, "Secret", "ta-token-authority")

    assert base64.b64decode(secret["data"]["admin-token"]).decode() == ADMIN_TOKEN
    for item in objects:
        if item["kind"] == "Secret":
            continue
        assert ADMIN_TOKEN not in yaml.safe_dump(item), f"token in {item['kind']} {item['metadata']['name']}"


def test_value_absent_from_configmap_and_notes():
    values = with_admin(value=ADMIN_TOKEN)
    configmap = find(manifests(values), "ConfigMap")

    assert ADMIN_TOKEN not in yaml.safe_dump(configmap)
    assert "TOKEN_AUTHORITY_ADMIN_TOKEN_FILE" not in configmap["data"]
    assert ADMIN_TOKEN not in render(values)[NOTES_PATH]


def test_token_file_mounted_read_only():
    objects = manifests(with_admin(value=ADMIN_TOKEN))
    container = server_container(objects)
    env = env_by_name(container)

    assert container["volumeMounts"] == [
        {"name": "admin-token", "mountPath": "/etc/token-authority/admin-token", "readOnly": True}
    ]
    assert env["TOKEN_AUTHORITY_ADMIN_TOKEN_FILE"] == {"name": "TOKEN_AUTHORITY_ADMIN_TOKEN_FILE", "value": TOKEN_FILE}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert admin_volume(objects)["secret"] == {
        "secretName": "ta-token-authority",
        "items": [{"key": "admin-token", "path": "admin-token"}],
        "defaultMode": 0o444,
    }


def test_existing_secret_mounted_by_key():
    objects = manifests(with_admin(existingSecret="ops-admin", key="token"))

    assert admin_volume(objects)["secret"]["secretName"] == "ops-admin"
    assert admin_volume(objects)["secret"]["items"] == [{"key": "token", "path": "admin-token"}]
    assert env_by_name(server_container(objects))["TOKEN_AUTHORITY_ADMIN_TOKEN_FILE"]["value"] == TOKEN_FILE
    assert "admin-token" not in find(objects, "Secret", "ta-token-authority")["data"]


def test_existing_secret_creates_no_secret():
    objects = manifests(load_value_set("existing-secret"))

    assert [item for item in objects if item["kind"] == "Secret"] == []
    assert admin_volume(objects)["secret"]["secretName"] == "token-authority-admin"


@pytest.mark.parametrize("value_set", ["existing-secret", "in-memory"])
def test_value_creates_secret_without_redis_url(value_set):
    values = merge(load_value_set(value_set), {"adminToken": {"existingSecret": "", "value": ADMIN_TOKEN}})
    secret = find(manifests(values), "Secret", "ta-token-authority")

    assert sorted(secret["data"]) == ["admin-token"]


def test_no_admin_token_mounts_nothing():
    objects = manifests(load_value_set("external-url"))
    container = server_container(objects)

    assert "volumeMounts" not in container
    assert "volumes" not in pod_spec(objects)
    assert "TOKEN_AUTHORITY_ADMIN_TOKEN_FILE" not in env_by_name(container)
    assert "admin-token" not in find(objects, "Secret", "ta-token-authority")["data"]
    assert "WARNING: no admin token is set" in render(load_value_set("external-url"))[NOTES_PATH]


def test_in_memory_store_gets_token_env():
    objects = manifests(merge(load_value_set("in-memory"), {"adminToken": {"value": ADMIN_TOKEN}}))
    env = env_by_name(server_container(objects))

    assert list(env) == ["TOKEN_AUTHORITY_ADMIN_TOKEN_FILE"]


def test_checksum_changes_with_admin_value():
    without = config_checksum(load_value_set("external-url"))
    first = config_checksum(with_admin(value=ADMIN_TOKEN))
    second = config_checksum(with_admin(value=ADMIN_TOKEN + "-rotated"))

    assert first != without
    assert second != first
    assert config_checksum(with_admin(value=ADMIN_TOKEN)) == first


def test_both_sources_rejected():
    with pytest.raises(helm_python.HelmRenderError, match="adminToken.existingSecret and adminToken.value"):
        render(with_admin(existingSecret="ops-admin", value=ADMIN_TOKEN))


@pytest.mark.parametrize("value", ["short-token", "has a space in it!!", "tab\tseparated-token-1234"])
def test_schema_rejects_bad_value(value):
    with pytest.raises(helm_python.HelmValuesError, match="value"):
        render(with_admin(value=value))


def test_notes_name_admin_secret():
    notes = render(with_admin(existingSecret="ops-admin", key="token"))[NOTES_PATH]

    assert 'key "token" of Secret "ops-admin"' in notes
    assert "WARNING: no admin token" not in notes
