"""A CAD's key, and documents to send with it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from server.accounts.system_clients import create_system_client

DOCUMENTS = Path(__file__).parent / "documents"


def valley_document() -> dict:
    """A person-down call as another agency's CAD sends it, written by hand from the standard."""
    return copy.deepcopy(json.loads((DOCUMENTS / "valley-cad-person-down.json").read_text()))


@pytest.fixture
def cad(people):
    """(the CAD's system client, an APIClient sending its key)."""
    client, key = create_system_client(actor=None, kind="cad", name="Valley CAD")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client, api


@pytest.fixture
def send(cad):
    def post(document, **extra):
        return cad[1].post("/api/v1/eido", document, format="json", **extra)

    return post
