"""The one JSON parser of every door: DRF's, with a nesting limit.

Python's parser recurses once per level, so a body nested a thousand deep exhausts the stack
(RecursionError, which DRF doesn't catch: a 500). No request the API takes nests deeper than a
handful of levels; anything past `MAX_JSON_DEPTH` is refused as malformed before it is parsed.

Every view parses through it: DRF's default parser (`BoundedJSONParser`), the FHIR views' media
types (`FhirJsonParser`, `JsonPatchParser`, `MergePatchParser`) and a view that reads its body
itself (the CAD's EIDO door) through `parse_json`.
"""

from __future__ import annotations

import io
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def max_json_depth() -> int:
    return int(getattr(settings, "CARE_MAX_JSON_DEPTH", 32))


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text, brackets inside strings aside.
    A linear scan without recursion, so it is safe on any input."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_depth(text: str) -> None:
    """`ParseError` (400 `malformed`) when the text nests deeper than the limit."""
    limit = max_json_depth()
    if nesting_depth(text) > limit:
        raise ParseError(f"JSON nested too deep: at most {limit} levels of arrays and objects.")


def parse_json(raw: bytes, encoding: str = "utf-8") -> Any:
    """A body a view reads itself, parsed as the parsers below parse theirs: not text, not
    JSON or nested too deep is a `ParseError`."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"The body is not {encoding} text.") from exc
    check_depth(text)
    try:
        return without_nul(json.loads(text))
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from exc
    except RecursionError as exc:  # only reachable with a lower interpreter stack limit
        raise ParseError("JSON nested too deep.") from exc


def without_nul(value: Any) -> Any:
    """The document with every NUL character taken out of its text. PostgreSQL can't store one,
    and an outside system's document (a CAD's EIDO) is taken in, not refused, for it; the doors
    DRF parses refuse one on each text field instead (its CharField)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        raw = stream.read() if stream is not None else b""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"The body is not {encoding} text.") from exc
        check_depth(text)
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError as exc:  # only reachable with a lower interpreter stack limit
            raise ParseError("JSON nested too deep.") from exc


class FhirJsonParser(BoundedJSONParser):
    media_type = "application/fhir+json"


class JsonPatchParser(BoundedJSONParser):
    media_type = "application/json-patch+json"


class MergePatchParser(BoundedJSONParser):
    media_type = "application/merge-patch+json"
