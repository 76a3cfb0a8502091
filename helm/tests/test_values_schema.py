"""Check that values.schema.json accepts the defaults and rejects wrong values.

Each rejection is checked twice: by Helm's own schema validation, which
`helm install` runs, and by a full render, so a template cannot hide it.
"""

from __future__ import annotations

import json

import helm_python
import jsonschema
import pytest

from chart_render import CHART_DIR, chart, load_value_set, merge, render

REJECTED_VALUES = {
    "replica count as string": ({"replicaCount": "three"}, "replicaCount"),
    "unknown top-level key": ({"replicas": 3}, "replicas"),
    "unknown config key": ({"config": {"logLevl": "debug"}}, "logLevl"),
    "unknown log format": ({"config": {"logFormat": "xml"}}, "logFormat"),
    "pool size zero": ({"config": {"redisPoolSize": 0}}, "redisPoolSize"),
    "pool size above server maximum": ({"config": {"redisPoolSize": 5000}}, "redisPoolSize"),
    "window above 30 days": ({"config": {"systemLimitWindowSeconds": 2592001}}, "systemLimitWindowSeconds"),
    "port out of range": ({"containerPorts": {"grpc": 70000}}, "grpc"),
    "url without scheme": ({"redis": {"url": "redis.example.internal:6379"}}, "url"),
    "short trial password": ({"redisTrial": {"enabled": True, "password": "short"}}, "password"),
    "trial password needing escape": (
        {"redisTrial": {"enabled": True, "password": "abc@def:ghi/jklmnop"}},
        "password",
    ),
    "preStop sleep zero": ({"preStopSleepSeconds": 0}, "preStopSleepSeconds"),
    "boolean as string": ({"metrics": {"enabled": "yes"}}, "enabled"),
    "bad surge percent": ({"updateStrategy": {"maxSurge": "half"}}, "maxSurge"),
}


def test_schema_is_valid_draft_7():
    schema = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))

    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["additionalProperties"] is False


def test_defaults_match_schema():
    chart().validate_schema({})


def test_defaults_match_schema_with_jsonschema():
    schema = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))

    jsonschema.Draft7Validator(schema).validate(chart().values)


def test_parent_chart_globals_accepted():
    values = merge(load_value_set("existing-secret"), {"global": {"imageRegistry": "example"}})

    chart().validate_schema(values)


@pytest.mark.parametrize("case", sorted(REJECTED_VALUES))
def test_schema_rejects(case):
    values, key = REJECTED_VALUES[case]

    with pytest.raises(helm_python.HelmValuesError, match=key):
        chart().validate_schema(values)


@pytest.mark.parametrize("case", sorted(REJECTED_VALUES))
def test_render_rejects(case):
    values, key = REJECTED_VALUES[case]
    values = merge(load_value_set("existing-secret"), values)

    with pytest.raises(helm_python.HelmValuesError, match=key):
        render(values)
