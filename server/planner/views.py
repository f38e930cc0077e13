"""The planner page for supervisors: scenarios side by side over a history, their charts, the
unserved calls by hour of the week and by area, validation against the record, and a CSV.
Aggregate figures only: no call, place or person is ever listed."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from server import csv_output
from server.accounts.models import Role
from server.accounts.views import console_for
from server.errors import CareFieldError, InvalidInput
from server.planner import charts, forms, presenters, selectors, services
from server.planner.history import import_program
from server.planner.models import CallHistory, PlanRun, Scenario
from server.planner.validation import latest_validation, validate

# Supervisors hold the admin role today (console_for always admits it); a supervisor role
# added later goes here.
PLANNER_ROLES = (Role.ADMIN,)


def _side_by_side(run: PlanRun | None) -> list[dict]:
    """The latest run of each scenario over the same history as `run`."""
    if run is None or run.history_id is None:
        return [{"scenario": run.scenario_name, "run": run, **run.results}] if run else []
    latest: dict[str, PlanRun] = {}
    for other in PlanRun.objects.filter(history_id=run.history_id):
        latest.setdefault(other.scenario_name, other)
    latest[run.scenario_name] = run
    return [{"scenario": name, "run": r, **r.results} for name, r in sorted(latest.items())]


def _scenario_form(request: HttpRequest, data=None, scenario: Scenario | None = None):
    initial = {"wait_limit_minutes": 10, "replications": 10, "travel_source": "distance"}
    if scenario is not None:
        initial = {
            f: getattr(scenario, f)
            for f in services.SCENARIO_FIELDS
            if f in forms.ScenarioForm.base_fields
        } | {"hours": forms.hours_text(scenario.hours)}
    types = sorted(set(selectors.call_type_codes()) | set(scenario.call_types if scenario else []))
    return forms.ScenarioForm(data, initial=initial, areas=selectors.area_names(), call_types=types)


def _context(request: HttpRequest, **extra) -> dict:
    chosen = request.GET.get("run", "")
    run = PlanRun.objects.filter(pk=int(chosen)).first() if chosen.isdigit() else None
    run = run or selectors.recent_runs(1).first()
    editing = request.GET.get("edit", "")
    scenario = Scenario.objects.filter(pk=int(editing)).first() if editing.isdigit() else None
    rows = _side_by_side(run)
    context = {
        "scenarios": selectors.scenarios(),
        "histories": selectors.histories(),
        "runs": selectors.recent_runs(),
        "run": run,
        "rows": rows,
        "validation": latest_validation(),
        "editing": scenario,
        "scenario_form": _scenario_form(request, scenario=scenario),
        "run_form": forms.RunForm(),
        "problems": [],
    }
    if run is not None:
        results = run.results
        context |= {
            "headline": presenters.headline(results),
            "heat": presenters.heat_table(results),
            "areas": presenters.area_rows(results)[:15],
            "share_chart": charts.share_chart(rows),
            "hour_chart": charts.unserved_by_hour_chart(results),
            "map": charts.area_map(selectors.area_shapes(), results["unserved_by_area"]),
        }
    return context | extra


@require_GET
@console_for(*PLANNER_ROLES)
def planner_page(request: HttpRequest) -> HttpResponse:
    services.todays_program()  # follows the live protocol as it is now
    return render(request, "planner/planner.html", _context(request))


def _refused(request: HttpRequest, problems: list[str], **extra) -> HttpResponse:
    context = _context(request, problems=problems, **extra)
    return render(request, "planner/planner.html", context, status=400)


@require_POST
@console_for(*PLANNER_ROLES)
def run_scenario(request: HttpRequest) -> HttpResponse:
    form = forms.RunForm(request.POST)
    if not form.is_valid():
        return _refused(request, [f"{k}: {' '.join(v)}" for k, v in form.errors.items()])
    scenario = Scenario.objects.filter(pk=form.cleaned_data["scenario"]).first()
    history = CallHistory.objects.filter(pk=form.cleaned_data["history"]).first()
    if scenario is None or history is None:
        return _refused(request, ["Choose a scenario and a history."])
    if scenario.live:
        scenario = services.todays_program()
    target = form.cleaned_data["target"]
    try:
        run = services.run_plan(
            scenario=scenario,
            history=history,
            target=target / 100 if target else None,
            actor=request.user,
        )
    except CareFieldError as refused:
        return _refused(request, [refused.detail])
    return redirect(f"/planner/?run={run.pk}")


@require_POST
@console_for(*PLANNER_ROLES)
def run_validation(request: HttpRequest) -> HttpResponse:
    try:
        run = validate()
    except CareFieldError as refused:
        return _refused(request, [refused.detail])
    return redirect(f"/planner/?run={run.pk}")


@require_POST
@console_for(*PLANNER_ROLES)
def program_history(request: HttpRequest) -> HttpResponse:
    name = f"The program's own incidents to {timezone.localtime():%Y-%m-%d %H:%M}"
    try:
        import_program(name=name)
    except CareFieldError as refused:
        return _refused(request, [refused.detail])
    return redirect("/planner/")


@require_POST
@console_for(*PLANNER_ROLES)
def save_scenario(request: HttpRequest) -> HttpResponse:
    """A new scenario, or the one named by the form's `scenario` id."""
    asked = request.POST.get("scenario", "")
    scenario = Scenario.objects.filter(pk=int(asked)).first() if asked.isdigit() else None
    if asked and scenario is None:
        return _refused(request, ["There is no such scenario to change."])
    form = _scenario_form(request, request.POST, scenario)
    if not form.is_valid():
        problems = [f"{k}: {' '.join(v)}" for k, v in form.errors.items()]
        return _refused(request, problems, scenario_form=form)
    values = dict(form.cleaned_data)
    if scenario is not None and scenario.live:
        # Today's program keeps the live areas, hours and call types; only assumptions change.
        for name in ("name", "city_wide", "areas", "hours", "call_types"):
            values.pop(name)
    try:
        saved = services.save_scenario(actor=request.user, scenario=scenario, **values)
    except CareFieldError as refused:
        return _refused(request, [refused.detail], scenario_form=form)
    return redirect(f"/planner/?edit={saved.pk}")


@require_GET
@console_for(*PLANNER_ROLES)
def run_csv(request: HttpRequest) -> HttpResponse:
    asked = request.GET.get("run", "")
    run = PlanRun.objects.filter(pk=int(asked)).first() if asked.isdigit() else None
    if run is None:
        refused = InvalidInput("Name a stored run: ?run=ID.", fields={"run": ["No such run."]})
        return JsonResponse(refused.as_dict(), status=refused.status)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="planner-run-{run.pk}.csv"'
    writer = csv_output.writer(response)
    writer.writerow(presenters.CSV_HEADER)
    writer.writerows(presenters.csv_rows(run))
    return response
