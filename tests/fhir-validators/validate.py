"""Validates FHIR resources and Bundles with the R4B models of the PyPI package fhir.resources.

Input on stdin: one JSON resource per line, or one JSON array of resources.
Output on stdout: one line per error, `#<index> <path>: <message>`; nothing when valid.
Exit status: 0 valid, 1 errors found, 2 the input could not be read.
"""

import json
import sys

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError


def parse_input(text):
    stripped = text.strip()
    if stripped.startswith("["):
        return json.loads(stripped)
    return [json.loads(line) for line in stripped.splitlines() if line.strip()]


def path_of(resource_type, loc):
    path = resource_type
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def errors_of(resource):
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return [("(resource)", "not a JSON object with a resourceType")]
    resource_type = resource["resourceType"]
    try:
        model = get_fhir_model_class(resource_type)
    except ValueError:
        return [(resource_type, f"unknown resource type {resource_type}")]
    try:
        model.model_validate(resource)
    except ValidationError as err:
        return [(path_of(resource_type, e["loc"]), e["msg"]) for e in err.errors()]
    return []


def main():
    try:
        resources = parse_input(sys.stdin.read())
    except json.JSONDecodeError as err:
        print(f"cannot read the input as JSON: {err}", file=sys.stderr)
        return 2
    count = 0
    for index, resource in enumerate(resources):
        for path, message in errors_of(resource):
            count += 1
            print(f"#{index} {path}: {message}")
    return 0 if count == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
