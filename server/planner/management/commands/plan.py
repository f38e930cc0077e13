"""manage.py plan SCENARIO --history FILE: a scenario's figures over a history, for analysts."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from server import csv_output
from server.errors import CareFieldError
from server.planner import presenters, services
from server.planner.history import import_export
from server.planner.models import CallHistory, Scenario
from server.planner.validation import validate


class Command(BaseCommand):
    help = (
        "Run a scenario (by name; 'today' is today's program) over a history (an imported "
        "history's name, or an export file, imported first) and print its figures. The run is "
        "stored with its inputs, seeds and code version. --validate compares today's program "
        "with the program's own recorded calls instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("scenario", nargs="?", default="today")
        parser.add_argument("--history", help="A history's name, or an export CSV file.")
        parser.add_argument("--seed", type=int, default=services.DEFAULT_SEED)
        parser.add_argument("--replications", type=int)
        parser.add_argument("--target", type=float, help="Find the teams for this share (0-1).")
        parser.add_argument("--csv", help="Also write the figures to this CSV file.")
        parser.add_argument("--validate", action="store_true")

    def handle(self, *args, **options):
        try:
            run = self._run(options)
        except CareFieldError as refused:
            raise CommandError(refused.detail) from refused
        self._print(run)
        if options["csv"]:
            with Path(options["csv"]).open("w", newline="") as out:
                writer = csv_output.writer(out)
                writer.writerow(presenters.CSV_HEADER)
                writer.writerows(presenters.csv_rows(run))

    def _run(self, options):
        if options["validate"]:
            return validate(seed=options["seed"], replications=options["replications"] or 10)
        return services.run_plan(
            scenario=self._scenario(options["scenario"]),
            history=self._history(options["history"]),
            seed=options["seed"],
            replications=options["replications"],
            target=options["target"],
        )

    def _scenario(self, name: str) -> Scenario:
        if name in ("today", services.TODAY):
            return services.todays_program()
        found = Scenario.objects.filter(name=name).first()
        if found is None:
            known = ", ".join(Scenario.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No scenario '{name}'. Scenarios: {known}.")
        return found

    def _history(self, given: str | None) -> CallHistory:
        if not given:
            raise CommandError("Give --history: a history's name or an export file.")
        found = CallHistory.objects.filter(name=given).first()
        if found is not None:
            return found
        path = Path(given)
        if not path.is_file():
            raise CommandError(f"No history named '{given}' and no file there.")
        found = CallHistory.objects.filter(name=path.name).first()
        if found is not None:
            return found
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return import_export(handle, name=path.name, file_name=path.name)

    def _print(self, run) -> None:
        self.stdout.write(
            f"{run.scenario_name} over {run.history_name} (run {run.pk}, "
            f"seeds {run.seeds[0]}..{run.seeds[-1]}, {run.code_version}, "
            f"{run.seconds:.1f} s)"
        )
        for row in presenters.headline(run.results):
            interval = f"  (95 % interval {row['interval']})" if row.get("interval") else ""
            self.stdout.write(f"  {row['label']}: {row['value']}{interval}")
        target = run.results.get("target")
        if target:
            teams = target["teams"]
            self.stdout.write(
                f"  Teams needed for {target['target']:.0%} of eligible calls at these hours: "
                + (f"{teams}" if teams else f"more than {target['most_tried']}")
            )
        check = run.results.get("validation")
        if check:
            share = check["share"]
            self.stdout.write(
                f"  Recorded share {share['recorded']:.1%}, simulated "
                f"{share['simulated']['mean']:.1%} (error {share['error']:+.1%})"
                + ("; OFF BY MORE THAN THE MARGIN" if check["off"] else "")
            )
