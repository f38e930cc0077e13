"""The tablet's side of enrolment, against a real server: a supervisor's one-time code, then
sign-ins that name the tablet; a code used twice; an unenrolled tablet refused with a reason."""

from __future__ import annotations

import pytest

from mobile.client.api import ApiError
from mobile.client.tablet import Tablet
from server.accounts import enrolment
from server.accounts.models import Device
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def enrolment_required(settings):
    settings.CARE_TABLET_ENROLMENT_REQUIRED = True


@pytest.fixture
def new_tablet(field_server, tmp_path):
    made: list[Tablet] = []

    def make() -> Tablet:
        tablet = Tablet(tmp_path / f"tablet-{len(made)}.sqlite3", server_url=field_server.url)
        made.append(tablet)
        return tablet

    yield make
    for tablet in made:
        tablet.close()


def code_from_supervisor(people) -> str:
    code, _ = enrolment.create_code(actor=people["admin"])
    return code


def test_an_enrolled_tablet_signs_in_with_the_responders_password(new_tablet, people):
    tablet = new_tablet()
    tablet.enrol(code_from_supervisor(people).lower(), "CARE-1 tablet A")  # typed as it comes
    assert tablet.enrolled
    answer = tablet.sign_in("care1", PASSWORD, "care1-tablet")
    device = Device.objects.get(pk=answer["device_id"])
    assert device.tablet is not None and device.tablet.name == "CARE-1 tablet A"


def test_an_unenrolled_tablet_is_told_why_its_sign_in_is_refused(new_tablet, people):
    tablet = new_tablet()
    with pytest.raises(ApiError) as refused:
        tablet.sign_in("care1", PASSWORD, "care1-tablet")
    assert refused.value.code == "tablet_not_enrolled"
    assert "enrolment code" in refused.value.detail
    assert not tablet.signed_in


def test_a_code_used_by_one_tablet_enrols_no_second(new_tablet, people):
    code = code_from_supervisor(people)
    new_tablet().enrol(code, "first")
    second = new_tablet()
    with pytest.raises(ApiError) as refused:
        second.enrol(code, "second")
    assert "already used" in refused.value.detail
    assert not second.enrolled
