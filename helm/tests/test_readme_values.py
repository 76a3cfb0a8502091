"""The values table in the chart README is generated from values.yaml and in step."""

from __future__ import annotations

import re

import yaml

import values_table


def leaf_keys(mapping, prefix=""):
    """Yield the dotted path of every scalar, list or empty mapping."""
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            yield from leaf_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def readme_table_keys():
    readme = values_table.README_PATH.read_text(encoding="utf-8")
    table = readme.split(values_table.TABLE_BEGIN)[1].split(values_table.TABLE_END)[0]
    return [match.group(1) for match in re.finditer(r"^\| `([^`]+)` \|", table, re.MULTILINE)]


def test_readme_table_current():
    assert values_table.readme_is_current(), (
        "the chart README values table is stale: run target/helm-venv/bin/python helm/tests/values_table.py"
    )


def test_every_leaf_value_in_table():
    values = yaml.safe_load(values_table.VALUES_PATH.read_text(encoding="utf-8"))
    documented = readme_table_keys()

    for leaf in leaf_keys(values):
        covered = any(leaf == key or leaf.startswith(f"{key}.") for key in documented)
        assert covered, f"{leaf} is missing from the README values table"


def test_every_table_key_in_values():
    values = yaml.safe_load(values_table.VALUES_PATH.read_text(encoding="utf-8"))

    for key in readme_table_keys():
        node = values
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{key} is in the table but not in values.yaml"
            node = node[part]


def test_generator_rejects_undocumented_key():
    text = "documented: 1\nundocumented: 2\n"
    descriptions = values_table.parse_descriptions("# -- Described.\n" + text)
    schema = {"properties": {"documented": {"type": "integer"}, "undocumented": {"type": "integer"}}}

    try:
        values_table.collect_rows(yaml.safe_load(text), descriptions, schema)
    except values_table.ValuesDocError as error:
        assert "undocumented" in str(error)
    else:
        raise AssertionError("a key without a description was accepted")
