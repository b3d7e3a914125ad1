#!/usr/bin/env python3
"""Validates Compose files against the Compose Specification JSON Schema.

    compose_check.py SCHEMA FILE...

Prints one JSON object: {"files": {FILE: {"errors": [...], "document": {...}}}} where
"document" is the file as Compose reads it (YAML anchors and merge keys resolved) and
"errors" lists each schema violation as "PATH: MESSAGE". Exit code 0 when the files could be
read (valid or not), 2 on bad usage or a file that is not YAML.
"""

import json
import sys

import jsonschema
import yaml


def errors_of(validator, document):
    found = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in error.absolute_path) or "(top)"
        found.append(f"{path}: {error.message}")
    return found


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    files = {}
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                document = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        files[path] = {"errors": errors_of(validator, document), "document": document}
    json.dump({"files": files}, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
