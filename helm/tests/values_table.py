"""Generate the values table of the chart README from values.yaml.

A comment line starting with "# --" describes the key on the next key line,
and the comment lines that follow it continue the description. A described
key whose value is a non-empty mapping is documented as one row, and the keys
inside it need no description. Every other mapping is walked into, and each
leaf below it must have a description. Plain "#" comments are free notes and
do not reach the table.

The Type column comes from values.schema.json, so a key missing from the
schema is reported as an error too.

Usage:
    python values_table.py          rewrite the table in the chart README
    python values_table.py --check  exit 1 if the README table is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

CHART_DIR = Path(__file__).resolve().parent.parent / "token-authority"
VALUES_PATH = CHART_DIR / "values.yaml"
SCHEMA_PATH = CHART_DIR / "values.schema.json"
README_PATH = CHART_DIR / "README.md"

TABLE_BEGIN = "<!-- values-table:begin -->"
TABLE_END = "<!-- values-table:end -->"

KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?:\s|$)")
DESCRIPTION_START = re.compile(r"^ *# -- ?(?P<text>.*)$")
COMMENT_LINE = re.compile(r"^ *#(?: (?P<text>.*))?$")


class ValuesDocError(Exception):
    """A problem in values.yaml or the schema that keeps the table from being built."""


@dataclass
class ValueRow:
    key: str
    type_name: str
    default: str
    description: str


def parse_descriptions(text: str) -> dict[str, str]:
    """Map each dotted key path in values.yaml text to its "# --" description."""
    descriptions: dict[str, str] = {}
    path: list[tuple[int, str]] = []
    pending: list[str] | None = None

    for number, line in enumerate(text.splitlines(), start=1):
        start = DESCRIPTION_START.match(line)
        if start:
            pending = [start.group("text").strip()]
            continue

        comment = COMMENT_LINE.match(line)
        if comment:
            if pending is not None:
                pending.append((comment.group("text") or "").strip())
            continue

        key_match = KEY_LINE.match(line)
        if not key_match:
            # Blank lines, list items and block scalars carry no key. A blank
            # line ends a description that no key followed.
            if not line.strip():
                pending = None
            continue

        indent = len(key_match.group("indent"))
        while path and path[-1][0] >= indent:
            path.pop()
        path.append((indent, key_match.group("key")))
        dotted = ".".join(key for _, key in path)

        if pending is not None:
            description = " ".join(part for part in pending if part)
            if not description:
                raise ValuesDocError(f"values.yaml line {number}: empty description for {dotted}")
            descriptions[dotted] = description
            pending = None

    return descriptions


def schema_type(schema: dict, dotted: str) -> str:
    """Return the JSON schema type of a dotted key path, e.g. "integer | null"."""
    node = schema
    for key in dotted.split("."):
        properties = resolve(schema, node).get("properties", {})
        if key not in properties:
            raise ValuesDocError(f"values.schema.json has no entry for {dotted}: add one")
        node = properties[key]
    node = resolve(schema, node)

    if "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        return " | ".join(types)
    if "oneOf" in node:
        names: list[str] = []
        for option in node["oneOf"]:
            option = resolve(schema, option)
            if "oneOf" in option:
                names.extend(resolve(schema, inner)["type"] for inner in option["oneOf"])
            else:
                names.append(option["type"])
        return " | ".join(dict.fromkeys(names))
    raise ValuesDocError(f"values.schema.json has no type for {dotted}: add one")


def resolve(schema: dict, node: dict) -> dict:
    """Follow a local "$ref" such as "#/definitions/port"."""
    while "$ref" in node:
        target = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def collect_rows(values: dict, descriptions: dict[str, str], schema: dict) -> list[ValueRow]:
    """Walk the values and return one row per documented key, in file order."""
    rows: list[ValueRow] = []
    missing: list[str] = []

    def walk(mapping: dict, prefix: str) -> None:
        for key, value in mapping.items():
            dotted = f"{prefix}{key}"
            described = dotted in descriptions
            if isinstance(value, dict) and value and not described:
                walk(value, f"{dotted}.")
                continue
            if not described:
                missing.append(dotted)
                continue
            rows.append(
                ValueRow(
                    key=dotted,
                    type_name=schema_type(schema, dotted),
                    default=json.dumps(value, separators=(", ", ": ")),
                    description=descriptions[dotted],
                )
            )

    walk(values, "")
    if missing:
        raise ValuesDocError(
            "values.yaml keys without a '# --' description (add one above each): " + ", ".join(missing)
        )

    row_keys = {row.key for row in rows}
    orphans = [key for key in descriptions if key not in row_keys]
    if orphans:
        raise ValuesDocError(
            "'# --' descriptions inside an already documented mapping (make them plain comments): "
            + ", ".join(orphans)
        )
    return rows


def escape_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(rows: list[ValueRow]) -> str:
    lines = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for row in rows:
        cells = [f"`{row.key}`", row.type_name, f"`{row.default}`", row.description]
        lines.append("| " + " | ".join(escape_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def build_table() -> str:
    text = VALUES_PATH.read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return render_table(collect_rows(values, parse_descriptions(text), schema))


def replace_table(readme: str, table: str) -> str:
    """Return the README text with the part between the table markers replaced."""
    begin = readme.find(TABLE_BEGIN)
    end = readme.find(TABLE_END)
    if begin < 0 or end < begin:
        raise ValuesDocError(f"{README_PATH} is missing the markers {TABLE_BEGIN} and {TABLE_END}: add them")
    return readme[: begin + len(TABLE_BEGIN)] + "\n" + table + "\n" + readme[end:]


def readme_is_current() -> bool:
    readme = README_PATH.read_text(encoding="utf-8")
    return replace_table(readme, build_table()) == readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the README table is current")
    arguments = parser.parse_args()

    try:
        if arguments.check:
            if readme_is_current():
                return 0
            print(
                f"{README_PATH} values table is stale: run {sys.executable} {Path(__file__)}",
                file=sys.stderr,
            )
            return 1
        readme = README_PATH.read_text(encoding="utf-8")
        README_PATH.write_text(replace_table(readme, build_table()), encoding="utf-8")
        return 0
    except ValuesDocError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
