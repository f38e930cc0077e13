"""The HSDS import's doors, as an attacker tries them: the admin upload needs the directory's
permissions and asks before wiping it; a publication fetched from an address makes no request
outside that address (real HTTP servers here, one playing an internal service); a zip fetches
nothing and a lying one is a clear error."""

from __future__ import annotations

import http.server
import io
import json
import shutil
import struct
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from server.accounts.models import Role, User
from server.care.models import DirectoryService
from server.interop import hsds
from server.interop.hsds import PublicationError, import_hsds

HERE = Path(__file__).parent / "hsds"
TABULAR = HERE / "tabular"
SOURCE = "harbor-and-eastside"
DEMO_SOURCE = "fixtures/directory-hsds.json"
UPLOAD = "/admin/care/directoryservice/import-hsds/"
SECRET = "INTERNAL-SECRET-ROW"


class _Site:
    """A real HTTP server on 127.0.0.1 serving a folder, counting the requests it gets;
    `redirects` maps a path to a Location to answer 302 with, `slow` paths trickle."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[str] = []
        self.redirects: dict[str, str] = {}
        self.slow: set[str] = set()
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):  # the standard library names it
                site.requests.append(self.path)
                if self.path in site.redirects:
                    self.send_response(302)
                    self.send_header("Location", site.redirects[self.path])
                    self.end_headers()
                    return
                if self.path in site.slow:
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(100):  # a byte at a time, far slower than any bound
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                super().do_GET()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def internal(tmp_path) -> Iterator[_Site]:
    """An address inside the network that no publication may make us read."""
    folder = tmp_path / "internal"
    folder.mkdir()
    (folder / "secret.csv").write_text(f"id,name\n{SECRET},{SECRET}\n")
    (folder / "schema.json").write_text('{"fields": [{"name": "id", "type": "string"}]}')
    site = _Site(folder)
    yield site
    site.close()


@pytest.fixture
def publisher(tmp_path) -> Iterator[_Site]:
    """The publication's own address: a copy of the tabular package."""
    shutil.copytree(TABULAR, tmp_path / "pub")
    site = _Site(tmp_path / "pub")
    yield site
    site.close()


def _rewrite(folder: Path, change) -> None:
    descriptor = json.loads((folder / "datapackage.json").read_text())
    change(descriptor)
    (folder / "datapackage.json").write_text(json.dumps(descriptor))


def _resource(descriptor: dict, name: str) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


def test_a_resource_at_an_internal_address_is_never_fetched(reference, publisher, internal):
    def point_at_internal(d):
        _resource(d, "service")["path"] = f"{internal.url}/secret.csv"

    _rewrite(publisher.folder, point_at_internal)
    with pytest.raises(PublicationError) as refused:
        import_hsds(None, f"{publisher.url}/datapackage.json", SOURCE)
    assert "outside the publication" in str(refused.value)
    assert SECRET not in str(refused.value)
    assert internal.requests == []
    assert not DirectoryService.objects.filter(source=SOURCE).exists()


def test_a_schema_or_profile_at_an_internal_address_is_never_fetched(
    reference, publisher, internal
):
    def point_at_internal(d):
        d["profile"] = f"{internal.url}/schema.json"
        _resource(d, "organization")["profile"] = f"{internal.url}/schema.json"

    _rewrite(publisher.folder, point_at_internal)
    report = import_hsds(None, f"{publisher.url}/datapackage.json", SOURCE)
    assert len(report.added) == 3  # the profiles are dropped, the package still read
    assert internal.requests == []

    def schema_at_internal(d):
        _resource(d, "service")["schema"] = f"{internal.url}/schema.json"

    _rewrite(publisher.folder, schema_at_internal)
    with pytest.raises(PublicationError):
        import_hsds(None, f"{publisher.url}/datapackage.json", SOURCE + "-2")
    assert internal.requests == []


def test_a_package_under_another_name_is_held_to_the_same_rule(reference, publisher, internal):
    descriptor = json.loads((publisher.folder / "datapackage.json").read_text())
    descriptor["profile"] = f"{internal.url}/profile.json"
    _resource(descriptor, "service")["path"] = f"{internal.url}/secret.csv"
    (publisher.folder / "directory.json").write_text(json.dumps(descriptor))
    with pytest.raises(PublicationError):
        import_hsds(None, f"{publisher.url}/directory.json", SOURCE)
    assert internal.requests == []


def test_a_redirect_off_the_publications_address_is_not_followed(reference, publisher, internal):
    publisher.redirects["/services.csv"] = f"{internal.url}/secret.csv"
    with pytest.raises(PublicationError) as refused:
        import_hsds(None, f"{publisher.url}/datapackage.json", SOURCE)
    assert "outside the publication" in str(refused.value)
    assert internal.requests == []
    assert "/services.csv" in publisher.requests


def test_a_redirect_within_the_publications_address_is_followed(reference, publisher):
    shutil.move(publisher.folder / "services.csv", publisher.folder / "moved.csv")
    publisher.redirects["/services.csv"] = "/moved.csv"
    report = import_hsds(None, f"{publisher.url}/datapackage.json", SOURCE)
    assert len(report.added) == 3


def test_fetched_resources_named_otherwise_are_still_known_by_their_files(reference, publisher):
    def renamed(d):
        for n, resource in enumerate(d["resources"]):
            resource["name"] = f"part-{n}"
        _resource_by_path(d, "services.csv")["path"] = f"{publisher.url}/services.csv"

    _rewrite(publisher.folder, renamed)
    report = import_hsds(None, f"{publisher.url}/datapackage.json", SOURCE)
    assert len(report.added) == 3


def _resource_by_path(descriptor: dict, path: str) -> dict:
    return next(r for r in descriptor["resources"] if r["path"] == path)


def test_a_file_larger_than_the_bound_is_refused(reference, publisher, monkeypatch):
    monkeypatch.setattr(hsds, "MAX_DOWNLOAD_BYTES", 200)
    with pytest.raises(PublicationError) as refused:
        import_hsds(None, f"{publisher.url}/datapackage.json", SOURCE)
    assert "larger than" in str(refused.value)


def test_a_publication_that_never_finishes_is_given_up(reference, publisher, monkeypatch):
    monkeypatch.setattr(hsds, "FETCH_SECONDS", 1)
    publisher.slow.add("/services.csv")
    with pytest.raises(PublicationError) as refused:
        import_hsds(None, f"{publisher.url}/datapackage.json", SOURCE)
    assert "too long" in str(refused.value)


def _zipped_package(folder: Path, change) -> bytes:
    _rewrite(folder, change)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            archive.write(path, path.name)
    return buffer.getvalue()


def test_nothing_is_fetched_for_a_zipped_package(reference, tmp_path, internal):
    shutil.copytree(TABULAR, tmp_path / "pkg")

    def point_at_internal(d):
        d["profile"] = f"{internal.url}/schema.json"
        _resource(d, "service")["path"] = f"{internal.url}/secret.csv"

    archive = tmp_path / "publication.zip"
    archive.write_bytes(_zipped_package(tmp_path / "pkg", point_at_internal))
    with pytest.raises(PublicationError):
        import_hsds(None, str(archive), SOURCE)
    assert internal.requests == []


def _staff(client, *permissions: str) -> User:
    person = User.objects.create_user("clerk", password="care-demo-password", role=Role.ADMIN)
    person.is_staff = True
    person.save()
    for codename in permissions:
        person.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(person)
    return person


def _upload(client, content: bytes, name: str, source: str, **extra):
    buffer = io.BytesIO(content)
    buffer.name = name
    return client.post(UPLOAD, {"source": source, "publication": buffer, **extra})


def test_a_staff_account_without_the_directorys_permissions_cannot_import(reference, client):
    _staff(client, "view_directoryservice")
    before = set(DirectoryService.objects.filter(active=True).values_list("pk", flat=True))
    assert client.get(UPLOAD).status_code == 403
    wipe = _upload(client, b'{"organization": []}', "wipe.json", DEMO_SOURCE)
    assert wipe.status_code == 403
    assert set(DirectoryService.objects.filter(active=True).values_list("pk", flat=True)) == before


def test_a_staff_account_with_the_directorys_permissions_may_import(reference, client):
    _staff(client, "add_directoryservice", "change_directoryservice")
    answer = _upload(client, (HERE / "publication.json").read_bytes(), "p.json", SOURCE)
    assert answer.status_code == 200
    assert "3 added" in answer.content.decode()


def test_an_upload_taking_most_of_the_directory_out_of_use_asks_first(reference, client):
    _staff(client, "add_directoryservice", "change_directoryservice")
    offered = DirectoryService.objects.filter(active=True).count()
    asked = _upload(client, b'{"organization": []}', "empty.json", DEMO_SOURCE)
    assert asked.status_code == 200
    assert 'name="confirm_deactivation"' in asked.content.decode()
    assert DirectoryService.objects.filter(active=True).count() == offered
    done = _upload(
        client, b'{"organization": []}', "empty.json", DEMO_SOURCE, confirm_deactivation="yes"
    )
    assert done.status_code == 200
    assert not DirectoryService.objects.filter(source=DEMO_SOURCE, active=True).exists()


def test_the_command_asks_for_the_same_confirmation(reference, tmp_path):
    from django.core.management import CommandError, call_command

    empty = tmp_path / "empty.json"
    empty.write_text('{"organization": []}')
    with pytest.raises(CommandError):
        call_command("import_hsds", str(empty), "--source", DEMO_SOURCE, stdout=io.StringIO())
    assert DirectoryService.objects.filter(source=DEMO_SOURCE, active=True).exists()
    call_command(
        "import_hsds", str(empty), "--source", DEMO_SOURCE, "--confirm-deactivation",
        stdout=io.StringIO(),
    )  # fmt: skip
    assert not DirectoryService.objects.filter(source=DEMO_SOURCE, active=True).exists()


def _lying_zip() -> bytes:
    """A zip whose headers say its one file is 10 bytes long; it is 2,000."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("publication.json", json.dumps({"organization": [], "pad": "x" * 2000}))
    data = bytearray(buffer.getvalue())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 10)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)
    return bytes(data)


def test_a_zip_with_a_lying_header_is_a_clear_error_in_the_admin(reference, client):
    _staff(client, "add_directoryservice", "change_directoryservice")
    answer = _upload(client, _lying_zip(), "lying.zip", SOURCE)
    assert answer.status_code == 200
    assert "damaged" in answer.content.decode()
    assert not DirectoryService.objects.filter(source=SOURCE).exists()
