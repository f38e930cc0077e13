from mobile.client.message_line import READ_SECONDS, MessageLine


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_error_stays_through_screen_changes_and_time_until_the_person_acts():
    clock = Clock()
    line = MessageLine(clock=clock)
    line.say("That PIN is not right.", error=True)
    line.screen_changed()
    clock.now += 60
    line.tick()
    assert line.text == "That PIN is not right."
    line.acted()
    assert line.text == ""


def test_a_confirmation_survives_a_screen_change_until_it_has_been_read():
    clock = Clock()
    line = MessageLine(clock=clock)
    line.say("Signed on to CARE-1.")
    clock.now += 1
    line.screen_changed()
    assert line.text == "Signed on to CARE-1."
    clock.now += READ_SECONDS - 1.5
    assert not line.tick() and line.text == "Signed on to CARE-1."
    clock.now += 1
    assert line.tick() and line.text == ""


def test_a_confirmation_already_read_goes_with_the_screen_and_a_tap_leaves_it():
    clock = Clock()
    line = MessageLine(clock=clock)
    line.say("Notes saved on the tablet.")
    line.acted()
    assert line.text == "Notes saved on the tablet."
    clock.now += READ_SECONDS
    line.screen_changed()
    assert line.text == ""


def test_a_newer_message_replaces_an_older_one_at_once_even_an_error():
    clock = Clock()
    line = MessageLine(clock=clock)
    line.say("Choose your unit first.", error=True)
    line.say("Signed on to CARE-1.")
    assert (line.text, line.error) == ("Signed on to CARE-1.", False)
