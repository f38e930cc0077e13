"""The planner page's forms: a scenario in a supervisor's words (hours as lines such as
"Mon-Fri 11:00-23:00 2"), and a run. The scenario's service checks everything again."""

from __future__ import annotations

import re

from django import forms

from server.planner.models import MAX_REPLICATIONS, SceneSource, TravelSource

DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
HOURS_LINE = re.compile(
    r"^(?P<days>daily|[a-z]{3}(?:-[a-z]{3})?)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})"
    r"\s+(?P<teams>\d{1,3})$"
)
HOURS_HELP = (
    "One line per stretch: days, hours, teams on duty, e.g. 'Mon-Fri 11:00-23:00 2' or "
    "'daily 00:00-00:00 3' (the same start and end is the whole day)."
)


def _days(text: str) -> list[int]:
    if text == "daily":
        return list(range(7))
    first, _, last = text.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise forms.ValidationError(f"'{text}' is not a day or a range of days like Mon-Fri.")
    start, end = DAYS[first], DAYS[last or first]
    return list(range(start, end + 1)) if start <= end else [*range(start, 7), *range(end + 1)]


def parse_hours_text(text: str) -> list[dict]:
    rows = []
    for number, line in enumerate(text.strip().splitlines(), start=1):
        match = HOURS_LINE.match(" ".join(line.lower().split()))
        if not match:
            raise forms.ValidationError(f"Line {number}: {HOURS_HELP}")
        for day in _days(match["days"]):
            rows.append(
                {
                    "weekday": day,
                    "start": match["start"].zfill(5),
                    "end": match["end"].zfill(5),
                    "teams": int(match["teams"]),
                }
            )
    return rows


def hours_text(rows: list[dict]) -> str:
    names = list(DAYS)
    return "\n".join(
        f"{names[r['weekday']].title()} {r['start']}-{r['end']} {r['teams']}" for r in rows
    )


class ScenarioForm(forms.Form):
    name = forms.CharField(max_length=120)
    city_wide = forms.BooleanField(required=False, label="City-wide (every area)")
    areas = forms.MultipleChoiceField(
        required=False, widget=forms.SelectMultiple(attrs={"size": 8})
    )
    hours = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text=HOURS_HELP)
    call_types = forms.MultipleChoiceField(widget=forms.SelectMultiple(attrs={"size": 4}))
    wait_limit_minutes = forms.FloatField(label="Dispatcher's wait limit (minutes)")
    travel_source = forms.ChoiceField(choices=TravelSource.choices)
    scene_source = forms.ChoiceField(choices=SceneSource.choices)
    replications = forms.IntegerField(min_value=2, max_value=MAX_REPLICATIONS)

    def __init__(self, *args, areas: list[str], call_types: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["areas"].choices = [(a, a) for a in areas]
        self.fields["call_types"].choices = [(c, c) for c in call_types]

    def clean_hours(self) -> list[dict]:
        return parse_hours_text(self.cleaned_data["hours"])


class RunForm(forms.Form):
    scenario = forms.IntegerField()
    history = forms.IntegerField()
    target = forms.FloatField(
        required=False, min_value=1, max_value=100, label="Teams for a target share (%)"
    )
