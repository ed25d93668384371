"""``kratix-sim schema scenario``: the JSON Schema of the scenario format, for editors."""

from __future__ import annotations

import argparse
import json

from sim.errors import EXIT_OK
from sim.scenario import Scenario

SCHEMAS = {"scenario": Scenario}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("schema", help="print the JSON Schema of a file format",
                            description="Print the JSON Schema of a kratix-sim file format (for editors).")
    parser.add_argument("format", choices=sorted(SCHEMAS))

    def handler(args: argparse.Namespace) -> int:
        schema = SCHEMAS[args.format].model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"kratix-sim {args.format}"
        print(json.dumps(schema, indent=2, sort_keys=True))
        return EXIT_OK

    parser.set_defaults(handler=handler)
