"""Documents NENA's EIDO schema accepts, drawn from the vendored schema itself, for the inbound
property test.

`hypothesis-jsonschema` 0.23 (its last release) fails inside the Hypothesis this project needs
(schemathesis requires hypothesis >= 6.130; hypothesis-jsonschema breaks from 6.120 on), so the
schema is read here by a small compiler for the part of JSON Schema NENA's components use:
`$ref`, `allOf` of objects, `type`, `properties`, `required`, `items`, `minItems`, `enum`, and the
`date-time` and `uri` formats. OpenAPI's own keywords are ignored. Objects also carry members NENA
does not name (its schema allows them). Members whose type is a NIEM component file are left out.

Random `$ref`s would never point at anything, so each document is then re-linked: most
references are pointed at a component of the same document (of any kind: resolution must cope
with the wrong kind too), and most PIDF-LO locations are replaced with readable ones, so that
resolution and placement are exercised, not only refusal. Every document is checked against the
full validator before it is used.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from hypothesis import strategies as st

from server.interop.conformance import EIDO_ROOT, eido_components

LOCAL = "#/components/schemas/"
# Times in a window a CAD could send today: from the program's first records
# (CARE_EARLIEST_TIME) to a fixed day already past, so the same seed draws the same documents on
# any day. Older or future times are refused (tests/server/test_time_bounds.py).
EARLIEST = datetime.datetime(2020, 1, 2)
LATEST = datetime.datetime(2026, 12, 1)
OFFSETS = [datetime.timezone(datetime.timedelta(minutes=m)) for m in (-480, -420, 0, 60, 330)]
PIDF = (
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" '
    'xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" entity="pres:x@example.org">'
    "<tuple id='t'><status><gp:geopriv><gp:location-info>{}</gp:location-info></gp:geopriv>"
    "</status></tuple></presence>"
)
READABLE_LOCATIONS = [
    PIDF.format("<gml:Point><gml:pos>47.6107 -122.3396</gml:pos></gml:Point>"),  # downtown
    PIDF.format("<gml:Point><gml:pos>47.6815 -122.2087</gml:pos></gml:Point>"),  # outside
    PIDF.format(
        "<ca:civicAddress><ca:HNO>600</ca:HNO><ca:RD>Pine</ca:RD><ca:STS>St</ca:STS>"
        "<ca:A3>Seattle</ca:A3></ca:civicAddress>"
    ),
]


def _times() -> st.SearchStrategy[str]:
    moments = st.datetimes(min_value=EARLIEST, max_value=LATEST)
    return st.builds(
        lambda m, tz: m.replace(tzinfo=tz).isoformat(), moments, st.sampled_from(OFFSETS)
    )


def _uris() -> st.SearchStrategy[str]:
    return st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=12).map(
        lambda path: f"https://lis.example.org/{path}"
    )


_extra_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))


class _Compiler:
    """NENA's components as Hypothesis strategies, one per named type (built once)."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components
        self.named: dict[str, st.SearchStrategy] = {}

    def named_type(self, name: str) -> st.SearchStrategy:
        if name not in self.named:
            self.named[name] = st.deferred(lambda: self.build(self.components[name]))
        return self.named[name]

    def build(self, schema: Any) -> st.SearchStrategy:
        if schema is True or schema == {}:
            return _extra_values
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(LOCAL):
            return self.named_type(ref[len(LOCAL) :])
        if "allOf" in schema:
            return self._object(_merged(schema["allOf"], self.components))
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        kind = schema.get("type", "object" if "properties" in schema else None)
        if kind == "object":
            return self._object(schema)
        if kind == "array":
            low = schema.get("minItems", 0)
            return st.lists(self.build(schema.get("items", {})), min_size=low, max_size=low + 2)
        return _scalar(kind, schema.get("format"))

    def _object(self, schema: dict) -> st.SearchStrategy:
        properties = {
            name: sub for name, sub in schema.get("properties", {}).items() if not _is_niem(sub)
        }
        required = [n for n in schema.get("required", []) if n in properties]
        optional = [n for n in properties if n not in required]
        fixed = st.fixed_dictionaries(
            {n: self.build(properties[n]) for n in required},
            optional={n: self.build(properties[n]) for n in optional},
        )
        extra = st.dictionaries(
            st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8).filter(
                lambda k: k not in properties
            ),
            _extra_values,
            max_size=2,
        )
        return st.builds(lambda extra, named: {**extra, **named}, extra, fixed)


def _scalar(kind: str | None, fmt: str | None) -> st.SearchStrategy:
    if kind == "string" and fmt == "date-time":
        return _times()
    if kind == "string" and fmt == "uri":
        return _uris()
    return {
        "string": st.text(max_size=24),
        "integer": st.integers(-(2**31), 2**31 - 1),
        "number": st.floats(allow_nan=False, allow_infinity=False),
        "boolean": st.booleans(),
    }.get(kind, _extra_values)


def _merged(parts: list[dict], components: dict[str, Any]) -> dict:
    """allOf of object schemas (NENA's prologue and a type's own members) as one object."""
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in parts:
        if isinstance(part.get("$ref"), str):
            part = components[part["$ref"][len(LOCAL) :]]
            if "allOf" in part:
                part = _merged(part["allOf"], components)
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += [n for n in part.get("required", []) if n not in merged["required"]]
    return merged


def _is_niem(schema: Any) -> bool:
    return isinstance(schema, dict) and "NIEMComponents" in str(schema.get("$ref", ""))


def _ids(node: Any) -> list[str]:
    if isinstance(node, list):
        return [i for item in node for i in _ids(item)]
    if not isinstance(node, dict):
        return []
    own = [node["$id"]] if isinstance(node.get("$id"), str) else []
    return own + [i for value in node.values() for i in _ids(value)]


def _relink(node: Any, ids: list[str], random, in_location: bool = False) -> None:
    if isinstance(node, list):
        for item in node:
            _relink(item, ids, random, in_location)
        return
    if not isinstance(node, dict):
        return
    if set(node) == {"$ref"} and ids and random.random() < 0.8:
        node["$ref"] = random.choice(ids)
    if in_location and "locationByValue" in node and random.random() < 0.7:
        node["locationByValue"] = random.choice(READABLE_LOCATIONS)
    for key, value in node.items():
        _relink(value, ids, random, key == "locationComponent" or in_location)


@functools.cache
def _raw_documents() -> st.SearchStrategy[dict]:
    return _Compiler(eido_components()).named_type(EIDO_ROOT)


@st.composite
def nena_documents(draw) -> dict:
    document = draw(_raw_documents())
    _relink(document, _ids(document), draw(st.randoms(use_true_random=False)))
    return document
