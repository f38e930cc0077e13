"""The publishers' own schemas (vendored unchanged under `standards/`) as validators.

What CARE Field sends and takes is right when NENA's, Open Referral's or the NEMSIS TAC's
artifacts say so. Each is read here once and kept; nothing here edits a vendored file.

NENA publishes EIDO as OpenAPI 3.0 schema objects: they are read as JSON Schema (draft 7, whose
`$ref` ignores its siblings as OpenAPI 3.0 does), `NIEMComponents/*.yaml` resolved as the
neighbours of `openapi.yaml`. The publisher's text has one malformed keyword (`minItems: 1,`
under `AgentType.agentRoleRegistryText`, a string where a number belongs); it is read as the
`minItems: 1` it evidently means, in memory, so the validator does not crash on an agent.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import xmlschema
import yaml
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

STANDARDS = Path(__file__).parent / "standards"
EIDO_DIR = STANDARDS / "nena-eido-1.0"
EIDO_OPENAPI = EIDO_DIR / "openapi.yaml"
EIDO_ROOT = "EmergencyIncidentDataObjectType"
HSDS_DIR = STANDARDS / "hsds-3.0" / "compiled"
NEMSIS_XSD = STANDARDS / "nemsis-3.5.1" / "EMS" / "EMSDataSet_v3.xsd"

# OpenAPI's own keywords, which JSON Schema does not know (stripped for generators; validators
# ignore unknown keywords anyway).
OPENAPI_ONLY = ("nullable", "example", "discriminator", "readOnly", "writeOnly", "xml")


def _as_json_schema(node: Any) -> Any:
    """A loaded OpenAPI schema tree, with the malformed `minItems` repaired in memory."""
    if isinstance(node, dict):
        out = {key: _as_json_schema(value) for key, value in node.items()}
        for keyword in ("minItems", "maxItems"):
            if isinstance(out.get(keyword), str):
                out[keyword] = int(out[keyword].rstrip(", "))
        return out
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    return node


@functools.cache
def _yaml(path: Path) -> Any:
    return _as_json_schema(yaml.safe_load(path.read_text(encoding="utf-8")))


def eido_uri(path: Path) -> str:
    return path.resolve().as_uri()


def _retrieve(uri: str) -> Resource:
    # Only the vendored folder is ever read: a `$ref` cannot reach the network or elsewhere.
    path = Path(urlsplit(uri).path).resolve()
    if EIDO_DIR.resolve() not in path.parents:
        raise LookupError(f"{uri} is outside the vendored EIDO schema")
    return Resource.from_contents(_yaml(path), default_specification=DRAFT7)


@functools.cache
def eido_registry() -> Registry:
    root = Resource.from_contents(_yaml(EIDO_OPENAPI), default_specification=DRAFT7)
    return Registry(retrieve=_retrieve).with_resource(eido_uri(EIDO_OPENAPI), root)


def eido_components() -> dict[str, Any]:
    """NENA's `components/schemas`, as loaded (the root type is `EIDO_ROOT`)."""
    return _yaml(EIDO_OPENAPI)["components"]["schemas"]


@functools.cache
def eido_validator(type_name: str = EIDO_ROOT) -> Draft7Validator:
    """A validator against one of NENA's types; by default a whole EIDO document
    (`EmergencyIncidentDataObjectType`)."""
    schema = {"$ref": f"{eido_uri(EIDO_OPENAPI)}#/components/schemas/{type_name}"}
    return Draft7Validator(schema, registry=eido_registry(), format_checker=FormatChecker())


def eido_errors(document: Any, type_name: str = EIDO_ROOT) -> list[str]:
    """Every way the document fails NENA's schema, each as `pointer: message`."""
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in eido_validator(type_name).iter_errors(document)
    ]


@functools.cache
def hsds_validator(name: str) -> Draft202012Validator:
    """Open Referral's compiled schema `name` (`service`, `service_list`, `organization`,
    `service_at_location`, ...) as a validator."""
    schema = _json(HSDS_DIR / f"{name}.json")
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def hsds_errors(name: str, instance: Any) -> list[str]:
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in hsds_validator(name).iter_errors(instance)
    ]


@functools.cache
def _hsds_page_validator() -> Draft202012Validator:
    page = _json(HSDS_DIR.parent / "openapi.json")["components"]["schemas"]["Page"]
    return Draft202012Validator(page)


def hsds_page_errors(item: str, page: Any) -> list[str]:
    """A page of the HSDS API (`total_items`, `contents`, ...): the envelope against the
    `Page` of Open Referral's `openapi.json`, each of `contents` against the compiled `item`."""
    errors = [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _hsds_page_validator().iter_errors(page)
    ]
    contents = page.get("contents") if isinstance(page, dict) else None
    if not isinstance(contents, list):
        return [*errors, "/contents: a page holds its items in a list"]
    for n, entry in enumerate(contents):
        errors += [f"/contents/{n}{error}" for error in hsds_errors(item, entry)]
    return errors


@functools.cache
def nemsis_schema() -> xmlschema.XMLSchema:
    """NEMSIS 3.5.1's `EMSDataSet_v3.xsd` (it includes the rest of the vendored folder)."""
    return xmlschema.XMLSchema(str(NEMSIS_XSD))


def nemsis_errors(xml: bytes | str) -> list[str]:
    """Every way the file fails the XSD, each naming the failing element's path."""
    return [f"{e.path}: {e.reason}" for e in nemsis_schema().iter_errors(xml)]
