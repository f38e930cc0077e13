"""The coordinator console: the referral queue and one referral's follow-up page (HTML, thin)."""

from __future__ import annotations

import datetime
import uuid

from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F, Prefetch
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from server.accounts.models import Role
from server.accounts.services import issue_console_token
from server.accounts.views import console_for
from server.audit.services import record_audit
from server.care import commands, selectors
from server.care.models import (
    REFERRAL_FLOW,
    DirectoryService,
    Referral,
    ReferralStatus,
    ReferralUpdate,
)
from server.care.opening import capacity_text, opening
from server.care.presenters import follow_up_author
from server.dispatch.models import Unit, UnitKind
from server.errors import CareFieldError
from server.feed.models import Stream
from server.feed.services import user_stream

PAGE_SIZE = 25
# Age filter: the referral was made within this many days, or longer ago for "older".
AGES = {
    "1": "Made in the last day",
    "7": "In the last 7 days",
    "30": "In the last 30 days",
    "older": "More than 30 days ago",
}
# The history entries with their authors (a partner key's account shows as its organization).
UPDATES_WITH_AUTHORS = Prefetch(
    "updates", queryset=ReferralUpdate.objects.select_related("author__system_client")
)


def _live_cursors(request: HttpRequest) -> dict[str, int]:
    """Where the page's live feed starts: the end of each stream a coordinator reads, so the
    socket sends only what changes after the page was drawn."""
    streams = [user_stream(request.user.pk), "directory", "referrals"]
    ends = dict(Stream.objects.filter(name__in=streams).values_list("name", "last_seq"))
    return {s: ends.get(s, 0) for s in streams}


def _last_update(referral: Referral) -> dict | None:
    updates = list(referral.updates.all())  # prefetched, oldest first
    if not updates:
        return None
    return {"at": updates[-1].created_at, "by": follow_up_author(updates[-1], referral)}


def _filtered(request: HttpRequest):
    referrals = Referral.objects.select_related("service", "encounter__assignment__unit")
    chosen = {k: request.GET.get(k, "") for k in ("status", "service", "age", "unit", "overdue")}
    if chosen["status"] in ReferralStatus.values:
        referrals = referrals.filter(status=chosen["status"])
    if chosen["service"]:
        referrals = (
            referrals.filter(service_id=chosen["service"])
            if _is_uuid(chosen["service"])
            else referrals.none()
        )
    if chosen["unit"].isdigit():
        referrals = referrals.filter(encounter__assignment__unit_id=int(chosen["unit"]))
    now = timezone.now()
    if chosen["age"] in ("1", "7", "30"):
        referrals = referrals.filter(made_at__gte=now - datetime.timedelta(days=int(chosen["age"])))
    elif chosen["age"] == "older":
        referrals = referrals.filter(made_at__lt=now - datetime.timedelta(days=30))
    if chosen["overdue"] == "1":
        referrals = selectors.overdue(referrals)
    # Soonest follow-up first (the overdue ones on top), those with no date after.
    return referrals.order_by(F("follow_up_due").asc(nulls_last=True), "-made_at"), chosen


def _is_uuid(raw: str) -> bool:
    try:
        uuid.UUID(raw)
    except ValueError:
        return False
    return True


@console_for(Role.COORDINATOR)
def referral_queue(request: HttpRequest) -> HttpResponse:
    referrals, chosen = _filtered(request)
    page = Paginator(referrals.prefetch_related(UPDATES_WITH_AUTHORS), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [
        {
            "referral": r,
            "overdue": selectors.is_overdue(r),
            "last_update": _last_update(r),
        }
        for r in page.object_list
    ]
    keep = request.GET.copy()
    keep.pop("page", None)
    return render(
        request,
        "care/referral_queue.html",
        {
            "rows": rows,
            "page": page,
            "chosen": chosen,
            "keep": keep.urlencode(),
            "statuses": ReferralStatus.choices,
            "directory": DirectoryService.objects.order_by("name"),
            "units": Unit.objects.filter(kind=UnitKind.CARE),
            "ages": AGES,
            "cursors": _live_cursors(request),
        },
    )


@console_for(Role.COORDINATOR)
def referral_page(request: HttpRequest, referral_id) -> HttpResponse:
    referral = (
        Referral.objects.select_related(
            "service", "encounter__assignment__unit", "encounter__disposition"
        )
        .filter(pk=referral_id)
        .first()
    )
    if referral is None:
        raise Http404("No such referral.")
    problem, fields = "", {}
    if request.method == "POST":
        problem, fields = _follow_up(request, referral)
        if not problem:
            return redirect(f"/coordinator/referrals/{referral.pk}/?saved=1")
        referral.refresh_from_db()
    with transaction.atomic():
        # Every look at a person's record leaves a trace.
        record_audit(actor=request.user, action="referral.viewed", obj=referral)
    encounter = referral.encounter
    return render(
        request,
        "care/referral_page.html",
        {
            "referral": referral,
            "encounter": encounter,
            "services_given": [
                s.service.label for s in encounter.services.select_related("service")
            ],
            "naloxone_given": encounter.naloxone.exists(),
            "updates": [
                {"update": u, "by": follow_up_author(u, referral)}
                for u in referral.updates.select_related("author__system_client")
            ],
            "next_statuses": [
                (value, label)
                for value, label in ReferralStatus.choices
                if value in REFERRAL_FLOW.get(referral.status, [])
            ],
            "overdue": selectors.is_overdue(referral),
            "service_opening": opening(referral.service.schedules),
            "service_capacity": capacity_text(referral.service.capacity),
            "problem": problem,
            "fields": fields,
            "saved": request.GET.get("saved") == "1",
            "cursors": _live_cursors(request),
        },
    )


@console_for(Role.COORDINATOR)
@require_POST
def console_token(request: HttpRequest) -> JsonResponse:
    """A device token for this signed-in coordinator's pages to open the live feed with (as the
    dispatch board's): the same one while the session lives, and it dies with the session."""
    return JsonResponse({"token": issue_console_token(user=request.user, session=request.session)})


def _follow_up(request: HttpRequest, referral: Referral) -> tuple[str, dict]:
    """Apply the coordinator's form through the same command as the API; the message and the
    fields to show if refused. Blank form fields are left out, as an API client would."""
    form = request.POST
    data = {
        key: form.get(key, "").strip()
        for key in ("status", "note", "follow_up_due", "version")
        if form.get(key, "").strip() or key == "note"
    }
    if "version" in data:
        data["base_version"] = data.pop("version")
    try:
        commands.update_referral(actor=request.user, data=data, referral_id=referral.pk)
    except CareFieldError as exc:
        return exc.detail, exc.fields
    return "", {}
