"""Enrolling a tablet in the real app under Xvfb against a real Daphne that requires enrolment:
an expired code and a code used twice are refused with their reasons, an enrolled tablet signs
its responder in, and a revoked tablet is wiped and can't sign anyone in again."""

from __future__ import annotations

import subprocess
import sys

from tests.mobile.ui.test_tablet_app import ROOT, TabletApp, pytestmark  # noqa: F401

NEW_CODE = """
from server.accounts.enrolment import create_code
from server.accounts.models import User
print(create_code(actor=User.objects.get(username="admin"))[0])
"""
EXPIRE_CODES = """
from django.utils import timezone
from server.accounts.models import EnrolmentCode
EnrolmentCode.objects.update(expires_at=timezone.now())
"""
REVOKE_TABLETS = """
from server.accounts.enrolment import revoke_tablet
from server.accounts.models import Tablet, User
for tablet in Tablet.objects.all():
    revoke_tablet(actor=User.objects.get(username="admin"), tablet=tablet, reason="lost")
"""


def shell(served_system, script: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=served_system.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def press_until(app: TabletApp, stable_id: str, took) -> None:
    """Tap until the tap counts: a tap just after the screen changed is ignored by the app's
    tap guard (it was aimed at what was there before)."""

    def tap() -> bool:
        if app.offers(stable_id):
            app.press(stable_id)
        return took()

    app.wait_for(f"a tap on {stable_id} to count", tap)


def enrol(app: TabletApp, code: str, name: str) -> None:
    app.wait_for("the sign-in screen", lambda: app.shows("go_enrol"))
    press_until(app, "go_enrol", lambda: app.shows("enrol_code"))
    app.type("enrol_code", code)
    app.type("tablet_name", name)
    said = app.read("enrol-message")["text"]
    press_until(app, "enrol", lambda: app.read("enrol-message")["text"] != said)


def answer_to_enrolment(app: TabletApp) -> str:
    app.wait_for("an answer", lambda: "Enrolling" not in app.read("enrol-message")["text"])
    return app.read("enrol-message")["text"]


def test_enrolment_on_the_tablet_refuses_expired_and_used_codes_and_a_revoked_tablet(
    served_system, tmp_path
):
    served_system.env["CARE_TABLET_ENROLMENT_REQUIRED"] = "true"
    url = served_system.start_daphne()
    stale = shell(served_system, NEW_CODE)
    shell(served_system, EXPIRE_CODES)
    code = shell(served_system, NEW_CODE)
    first, second = TabletApp(url, tmp_path / "first"), TabletApp(url, tmp_path / "second")
    try:
        enrol(second, stale, "CARE-2 tablet")
        assert "expired" in answer_to_enrolment(second)

        enrol(first, code, "CARE-1 tablet")
        first.wait_for("back to sign-in", lambda: first.shows("sign_in"))
        first.sign_in("care1")
        first.press("sign_in")
        first.set_pin()

        second.type("enrol_code", code)
        said = second.read("enrol-message")["text"]
        press_until(second, "enrol", lambda: second.read("enrol-message")["text"] != said)
        assert "already used" in answer_to_enrolment(second)
        second.screenshot("enrol-refused")

        shell(served_system, REVOKE_TABLETS)
        first.wait_for("the sign-in screen", lambda: first.shows("sign_in"), timeout=45)
        assert "revoked" in first.read("app-message")["text"]
        first.sign_in("care1")
        first.press("sign_in")
        first.wait_for("refused", lambda: "not enrolled" in first.read("signin-message")["text"])
    finally:
        first.stop()
        second.stop()
