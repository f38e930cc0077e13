"""The repository's JSON Schema for the EIDO documents we emit, as a validator."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator, FormatChecker

from server.interop.eido_in import SCHEMA_DIR

EMITTED = Draft202012Validator(
    json.loads((SCHEMA_DIR / "eido-emitted.schema.json").read_text()),
    format_checker=FormatChecker(),
)


def assert_valid_eido(document: dict) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in EMITTED.iter_errors(document)]
    assert not errors, errors
