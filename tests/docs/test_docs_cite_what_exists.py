"""The docs lead a newcomer to the code: every file, folder and test they cite in backquotes
exists, so a rename that forgets the docs fails here instead of misleading the next reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("server/", "mobile/", "tests/", "deploy/", "bench/", "docs/", "fixtures/", ".ci/")
CITED = re.compile(r"`([^`\s]+)`")
# `path.py::test_name` or `path.py::Class::test_name`; a bare `::test_name` continues the last
# file cited before it on the same line (the tables list several tests of one file so).
TEST = re.compile(r"^(?P<file>[\w./-]+\.py)?::(?P<name>[\w:\[\]-]+)$")


def cited_paths(text: str) -> set[str]:
    found = set()
    for token in CITED.findall(text):
        path = token.split("::")[0].rstrip(".,;:")
        if path.startswith(TOP) and not any(c in path for c in "*{}<>$"):
            found.add(path)
    return found


def cited_tests(text: str) -> set[tuple[str, str]]:
    found = set()
    for line in text.splitlines():
        last_file = None
        for token in CITED.findall(line):
            match = TEST.match(token)
            if match is None:
                continue
            last_file = match["file"] or last_file
            if last_file and last_file.startswith("tests/"):
                found.add((last_file, match["name"].split("::")[-1].split("[")[0]))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_file_and_folder_a_doc_cites_exists(doc):
    missing = sorted(p for p in cited_paths(doc.read_text()) if not (ROOT / p).exists())
    assert missing == [], f"{doc.name} cites what is not there"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_test_a_doc_names_is_defined_in_its_file(doc):
    missing = []
    for file, name in sorted(cited_tests(doc.read_text())):
        path = ROOT / file
        source = path.read_text() if path.exists() else ""
        if not re.search(rf"^\s*(async )?def {re.escape(name)}\(", source, re.M):
            missing.append(f"{file}::{name}")
    assert missing == [], f"{doc.name} names tests that are not there"


def test_the_citation_reader_finds_paths_and_tests_and_their_continuations():
    line = "`server/commands.py`, `tests/a/test_b.py::test_one`, `::test_two`, `care.E001`"
    assert cited_paths(line) == {"server/commands.py", "tests/a/test_b.py"}
    assert cited_tests(line) == {
        ("tests/a/test_b.py", "test_one"),
        ("tests/a/test_b.py", "test_two"),
    }


def code_text() -> str:
    kinds = (".py", ".kv", ".js", ".html", ".cfg", ".in")
    files = [
        p
        for top in ("server", "mobile", "deploy", "bench")
        for p in (ROOT / top).rglob("*")
        if p.suffix in kinds and ".venv" not in p.parts
    ]
    return "\n".join(p.read_text(errors="ignore") for p in files)


def test_every_name_the_architecture_cites_is_in_the_code():
    """`acks_recorded`, `send_event_on_commit`-style names: a signal, function or setting the
    architecture names must be one the code has (a renamed signal left the doc behind once)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    names = {t for t in re.findall(r"`([A-Za-z_][\w.]*)`", text) if "_" in t or "." in t}
    code = code_text()
    assert names, "the reader found no names"
    missing = sorted(n for n in names if n.split(".")[-1] not in code)
    assert missing == []
