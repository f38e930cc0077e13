"""The client-experience survey the responder hands to the person: the protocol's questions
(answered 1–5) and consent, without which nothing is kept."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from mobile.ui.widgets import BigToggle, Text

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

SCALE = range(1, 6)


class SurveyScreen(Screen):
    encounter_id = StringProperty("")

    def on_pre_enter(self, *args) -> None:
        self.answers: dict[str, int] = {}
        self.ids.consent.state = "normal"
        self.ids.message.text = ""
        box = self.ids.questions
        box.clear_widgets()
        store = App.get_running_app().session.tablet.store
        for question in store.protocol().get("survey_questions", []):
            box.add_widget(Text(text=question["text"], font_size="22sp"))
            row = BoxLayout(size_hint_y=None, height="64dp", spacing="8dp")
            for n in SCALE:
                toggle = BigToggle(
                    text=str(n),
                    stable_id=f"survey-{question['key']}-{n}",
                    group=f"survey-{question['key']}",
                )
                toggle.bind(on_release=lambda b, k=question["key"], n=n: self.answer(b, k, n))
                row.add_widget(toggle)
            box.add_widget(row)

    def refresh(self) -> None:
        pass

    def answer(self, toggle, key: str, n: int) -> None:
        if toggle.state == "down":
            self.answers[key] = n
        else:
            self.answers.pop(key, None)

    def submit(self) -> None:
        app = App.get_running_app()
        if self.ids.consent.state != "down":
            self.ids.message.text = "Answers are kept only when the person agrees. Tap consent."
            return
        app.session.tablet.recorder.survey(self.encounter_id, dict(self.answers), consent=True)
        app.undo_shelf.withdraw()  # the Undo on offer before the survey would reach past it
        app.go("encounter")
        app.tell("Thank you. The survey is saved on the tablet.")
