"""Web hardening: security headers, CSRF on every form, production settings that pass Django's
deploy check, refuse to start without their own secret key, and no secret in the repository.

The production checks run `manage.py` and a request in a child process with production's
environment (DEBUG=false, SECRET_KEY, ALLOWED_HOSTS from env), because settings are read once,
at import: the test process itself runs on the demo's.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from server.accounts.models import User
from tests.conftest import PASSWORD

# A dispatched call with every kind of clinical record on it, from the authorization matrix.
from tests.server.test_authorization_matrix import care_records  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "server" / "templates"


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_NAME", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="care.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        DJANGO_SETTINGS_MODULE="server.settings",
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


# ---- headers -------------------------------------------------------------------------------


def assert_hardened(answer, where: str) -> None:
    headers = answer.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert "camera=()" in headers.get("Permissions-Policy", ""), where
    directives = [part.split(" ", 1) for part in headers["Content-Security-Policy"].split("; ")]
    policy = {name: value for name, value in directives}
    assert policy["frame-ancestors"] == "'none'", where
    assert policy["object-src"] == "'none'", where
    assert policy["script-src"] == "'self'", f"{where}: scripts only from this site"
    assert policy["default-src"] == "'self'", where


def test_pages_and_api_answers_carry_the_security_headers(client_for, care_records, client):  # noqa: F811
    for path in ("/", "/login/", "/dashboard/", "/admin/login/"):
        answer = Client().get(path)
        assert answer.status_code == 200, path
        assert_hardened(answer, path)
    client.force_login(User.objects.get(username="dispatcher"))
    for path in ("/dispatch/", f"/dispatch/calls/{care_records['incident']}/"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert_hardened(answer, path)
    for path, status in (
        ("/api/v1/protocol", 200),
        ("/api/v1/incidents", 200),
        ("/api/v1/nowhere", 404),
    ):
        answer = client_for("dispatcher").get(path)
        assert answer.status_code == status, path
        assert_hardened(answer, path)
    assert_hardened(Client().get("/api/v1/me"), "/api/v1/me, signed out")


def test_the_console_pages_use_no_inline_script(client, care_records):  # noqa: F811
    # The policy allows scripts only from files on this site: an inline one would not run.
    pages = {"/login/": Client().get("/login/")}
    client.force_login(User.objects.get(username="admin"))
    for path in (
        "/",
        "/dashboard/",
        "/dispatch/",
        f"/dispatch/calls/{care_records['incident']}/",
        "/coordinator/",
        f"/coordinator/referrals/{care_records['referral']}/",
    ):
        pages[path] = client.get(path)
    for path, answer in pages.items():
        assert answer.status_code == 200, path
        page = answer.content.decode()
        scripts = re.findall(r"<script\b[^>]*>", page)
        # A JSON data block is never run; anything else must be a file.
        code = [tag for tag in scripts if 'type="application/json"' not in tag]
        assert all("src=" in tag for tag in code), f"{path}: {scripts}"
        assert not re.search(r"\son[a-z]+\s*=", page), f"{path} has an inline event handler"
    assert 'src="/static/care/dispatch.js"' in pages["/dispatch/"].content.decode()


def test_production_sends_hsts_redirects_to_https_and_marks_cookies_secure(tmp_path):
    ask = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
# Production serves collected, hashed static files; this child has not collected any.
plain_static = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
override_settings(STORAGES=plain_static).enable()
client = Client(HTTP_HOST="care.example.org")
plain = client.get("/login/")
tls = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location", "")],
    "tls": [tls.status_code, dict(tls.headers)],
    "csrf_cookie_secure": bool(tls.cookies["csrftoken"]["secure"]),
    "session": [settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY],
}))
"""
    done = run_python(ask, production_env(tmp_path))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://care.example.org/login/"]
    status, headers = seen["tls"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert seen["csrf_cookie_secure"] is True
    assert seen["session"] == [True, True]


def test_a_console_session_lasts_one_shift_and_its_cookie_is_out_of_scripts_reach(people):
    browser = Client()
    token = post_forms(browser.get("/login/").content.decode())[0]["csrfmiddlewaretoken"]
    signed_in = browser.post(
        "/login/",
        {"username": "coordinator", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert signed_in.status_code == 302
    cookie = signed_in.cookies["sessionid"]
    assert cookie["max-age"] == 12 * 60 * 60
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


# ---- production settings ---------------------------------------------------------------------


def test_the_deploy_check_is_clean_with_production_settings(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(tmp_path, CARE_TRUSTED_PROXIES="10.0.0.5"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    assert "WARNING" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "secret_key",
    [None, "", "care-field-demo-key-not-for-production-use-0123456789"],
    ids=["unset", "empty", "the demo key"],
)
def test_production_refuses_to_start_without_its_own_secret_key(tmp_path, secret_key):
    env = production_env(tmp_path)
    env.pop("SECRET_KEY")
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    done = run_python("import django; django.setup()", env)
    assert done.returncode != 0
    assert "ImproperlyConfigured: Set SECRET_KEY" in done.stderr


def test_the_demo_starts_on_the_demo_key_only_with_debug_on(tmp_path):
    show = (
        "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"
    )
    done = run_python(show, production_env(tmp_path, DEBUG="true", SECRET_KEY=""))
    assert done.returncode == 0, done.stderr
    assert "not-for-production" in done.stdout


# ---- CSRF --------------------------------------------------------------------------------------


class Forms(HTMLParser):
    """The POST forms of a page, each with the names of its hidden inputs and their values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self._open: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._open = {"action": attrs.get("action") or ""}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and attrs.get("type") == "hidden":
            self._open[attrs.get("name", "")] = attrs.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def post_forms(html: str) -> list[dict[str, str]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def test_every_post_form_in_the_templates_has_a_csrf_token():
    checked = 0
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        for form in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
            if re.search(r"method=\"?post", form.group(0)[:200], re.I):
                checked += 1
                assert "{% csrf_token %}" in form.group(1), f"{template.relative_to(ROOT)}"
    assert checked >= 7, "the templates' POST forms were not found"


def test_every_post_form_a_page_renders_carries_a_csrf_token(client, care_records):  # noqa: F811
    pages = {
        "anonymous": ["/login/"],
        "dispatcher": ["/dispatch/", f"/dispatch/calls/{care_records['incident']}/"],
        "coordinator": ["/coordinator/", f"/coordinator/referrals/{care_records['referral']}/"],
    }
    seen = 0
    for who, paths in pages.items():
        client.logout()
        if who != "anonymous":
            client.force_login(User.objects.get(username=who))
        for path in paths:
            for form in post_forms(client.get(path).content.decode()):
                seen += 1
                assert len(form.get("csrfmiddlewaretoken", "")) >= 32, f"{path}: {form}"
    # Sign-in, sign-out on each console page, new call, the call page's actions, the follow-up.
    assert seen >= 8


def test_a_post_without_the_csrf_token_is_refused(care_records):  # noqa: F811
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/login/", {"username": "dispatcher", "password": "x"}).status_code == 403
    browser.force_login(User.objects.get(username="dispatcher"))
    for path in ("/dispatch/calls/new", "/dispatch/console-token", "/logout/"):
        assert browser.post(path, {}).status_code == 403, path
    # The API with the console's session cookie (not a device token) is held to the same rule.
    session_write = browser.post(
        f"/api/v1/incidents/{care_records['incident']}/cancel",
        {"reason": "x"},
        content_type="application/json",
    )
    assert session_write.status_code == 403
    # And with the token the page carries, the same request goes through.
    token = post_forms(browser.get("/dispatch/").content.decode())[0]["csrfmiddlewaretoken"]
    with_token = browser.post("/dispatch/console-token", HTTP_X_CSRFTOKEN=token)
    assert with_token.status_code == 200


# ---- secrets in the repository ------------------------------------------------------------------

SECRET_LOOKING = [
    ("a private key", re.compile("-----BEGIN [A-Z ]*" + "PRIVATE KEY-----")),
    ("an AWS access key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("a Django generated key", re.compile("django-" + r"insecure-\S{20,}")),
    (
        "a hard-coded SECRET_KEY",
        re.compile(
            r"SECRET_KEY\s*=\s*[\"'](?!care-field-demo-key-not-for-production)[^\"']{20,}[\"']"
        ),
    ),
    # Written-out placeholders (user:pass@host) in the docs are not secrets.
    (
        "a password in a URL",
        re.compile(r"\b(?:postgres|redis)(?:ql)?://[^/\s:@]+:(?!pass@|password@)[^@\s/]{3,}@"),
    ),
]


def test_no_secret_looking_value_is_committed():
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    found = []
    for name in filter(None, files):
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".jpg", ".sqlite3", ".gz", ".zip"):
            continue
        text = path.read_text(errors="ignore")
        found += [f"{name}: {what}" for what, pattern in SECRET_LOOKING if pattern.search(text)]
    assert not found, found
    assert len(files) > 50


# ---- the proxy in front --------------------------------------------------------------------

CHECK = (
    "import django; django.setup(); "
    "from django.core.management import call_command; call_command('check')"
)


def test_production_with_no_trusted_proxy_is_named_before_the_first_request(tmp_path):
    done = run_python(CHECK, production_env(tmp_path))
    assert done.returncode != 0
    assert "care.E001" in done.stderr and "CARE_TRUSTED_PROXIES" in done.stderr


def test_production_naming_its_proxy_starts(tmp_path):
    done = run_python(CHECK, production_env(tmp_path, CARE_TRUSTED_PROXIES="10.0.0.5"))
    assert done.returncode == 0, done.stderr
    assert "care.E001" not in done.stderr


def test_plain_http_on_a_loopback_without_the_redirect_needs_no_proxy(tmp_path):
    done = run_python(CHECK, production_env(tmp_path, SECURE_SSL_REDIRECT="false"))
    assert done.returncode == 0, done.stderr
