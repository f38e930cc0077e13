"""Start the test identity provider as its own process for one test, and speak to it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "care-field"
CLIENT_SECRET = "care-field-test-secret"


class IdentityProvider:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = (folder / "idp.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.idp.serve", str(folder)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.issuer = self._wait_for_issuer()
        self.url = self.issuer.removesuffix("/o")

    def _wait_for_issuer(self) -> str:
        found: list[str] = []
        reader = threading.Thread(
            target=lambda: found.append(self.process.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(timeout=120)  # a guard against a hang: migrating takes a few seconds
        if not found or not found[0].startswith("listening "):
            self.stop()
            raise RuntimeError(f"the identity provider did not start: {self.log_text()}")
        return found[0].split()[1]

    def log_text(self) -> str:
        return (self.folder / "idp.log").read_text()

    def register(self, *, redirect_uris: list[str], post_logout_redirect_uris: list[str]) -> None:
        self._post(
            "client",
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": post_logout_redirect_uris,
            },
        )

    def person(self, username: str, password: str, groups: list[str], **claims: str) -> None:
        self._post(
            "people", {"username": username, "password": password, "groups": groups, **claims}
        )

    def faults(self, **faults) -> None:
        self._post("faults", faults)

    def _post(self, what: str, body: dict) -> None:
        answer = requests.post(f"{self.url}/control/{what}", json=body, timeout=10)
        answer.raise_for_status()

    def environment(self) -> dict[str, str]:
        """What CARE Field's settings need to use this provider."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "CARE_SSO_GROUP_ROLES": GROUP_ROLES,
        }

    def settings(self) -> dict[str, str]:
        """The same, as Django settings names (for tests that run the server in-process)."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "CARE_SSO_GROUP_ROLES": GROUP_ROLES,
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# The city's groups and what each makes a person in CARE Field (the first that matches wins).
GROUP_ROLES = (
    "care-field-admins=admin,911-dispatchers=dispatcher,care-coordinators=coordinator,"
    "care-responders=care_responder,spd-officers=spd_officer"
)


def start_provider(tmp_path_factory) -> IdentityProvider:
    return IdentityProvider(tmp_path_factory.mktemp("idp"))


class ProviderBrowser:
    """The person's side at the provider, for tests without a browser: follow the redirect
    to the provider, sign in on its page, and return where it sends the browser back."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def sign_in(self, authorize_url: str, username: str, password: str) -> str:
        answer = self.session.get(authorize_url, allow_redirects=False, timeout=10)
        if answer.status_code == 302 and "/accounts/login/" in answer.headers["Location"]:
            login_url = urljoin(authorize_url, answer.headers["Location"])
            page = self.session.get(login_url, timeout=10)
            answer = self.session.post(
                login_url,
                data={
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": self.session.cookies["idp_csrftoken"],
                    "next": parse_qs(urlsplit(login_url).query)["next"][0],
                },
                headers={"Referer": page.url},
                allow_redirects=False,
                timeout=10,
            )
            answer = self.session.get(
                urljoin(authorize_url, answer.headers["Location"]),
                allow_redirects=False,
                timeout=10,
            )
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]
