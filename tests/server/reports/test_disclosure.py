"""Complementary suppression on small tables whose answers are worked out by hand."""

from __future__ import annotations

from server.reports.disclosure import Table, _relation_to_widen, withheld_counts


def test_a_lone_small_cell_takes_the_smallest_other_cell_with_it():
    table = Table({"total": 40, "a": 25, "b": 12, "c": 3})
    table.add_breakdown("total", ["a", "b", "c"])

    assert withheld_counts(table) == {"b", "c"}


def test_two_small_cells_that_add_up_to_under_11_take_a_third_with_them():
    table = Table({"total": 40, "a": 30, "b": 4, "c": 6})
    table.add_breakdown("total", ["a", "b", "c"])

    assert withheld_counts(table) == {"a", "b", "c"}


def test_two_small_cells_that_add_up_to_11_or_more_are_enough():
    table = Table({"total": 60, "a": 49, "b": 5, "c": 6})
    table.add_breakdown("total", ["a", "b", "c"])

    assert withheld_counts(table) == {"b", "c"}


def test_a_part_whose_whole_less_it_is_small_is_withheld():
    table = Table({"whole": 30, "part": 25})
    table.add_nested("whole", ["part"])

    assert withheld_counts(table) == {"part"}


def test_a_headline_count_is_kept_where_another_will_do():
    table = Table({"whole": 30, "part": 25}, headline={"part"})
    table.add_nested("whole", ["part"])

    assert withheld_counts(table) == {"whole"}


def test_a_total_withheld_is_not_left_recoverable_from_a_second_breakdown():
    # by type: 20 + 15 (shown); by area: 30 + 5 -> area 5 withheld, area 30 with it; the total 35
    # must not be shown beside a breakdown that would then give the area cells back.
    table = Table({"total": 35, "t1": 20, "t2": 15, "a1": 30, "a2": 5, "whole": 38})
    table.add_breakdown("total", ["t1", "t2"])
    table.add_breakdown("total", ["a1", "a2"])
    table.add_nested("whole", ["total"])

    hidden = withheld_counts(table)

    assert {"a1", "a2"} <= hidden
    # whole - total = 3 is small: one of them goes, and then the type cells (which add up to the
    # total) must not all stay shown.
    assert hidden & {"whole", "total"}
    if "total" in hidden:
        assert hidden & {"t1", "t2"}


def test_a_zero_is_not_withheld_to_protect_a_small_cell_when_a_positive_one_can_be():
    # Withholding the zero hides nothing: 40 - 35 would still give the 5 away.
    table = Table(counts={"total": 40, "a": 5, "zero": 0, "c": 35})
    table.add_breakdown("total", ["a", "zero", "c"])
    assert withheld_counts(table) == {"a", "c"}


# Relations as the suppression sees them: count name -> its coefficient. "a" is withheld, and so is
# every count of the relations next to it; the first one still showing a count is two hops away.
CHAIN = [
    {"u": 1, "x": 1, "whole": -1},  # shows counts, but shares nothing with "a"
    {"a": 1, "b": 1, "s": -1},
    {"b": 1, "c": 1, "t": -1},
    {"c": 1, "d": 1},  # "d" still shows
]
CHAIN_HIDDEN = {"a", "b", "s", "c", "t"}


def test_the_relation_widened_is_the_nearest_through_withheld_counts_that_still_shows_one():
    assert _relation_to_widen(CHAIN, "a", CHAIN_HIDDEN) == 3


def test_a_relation_of_the_count_itself_that_still_shows_one_is_widened_first():
    assert _relation_to_widen(CHAIN, "c", CHAIN_HIDDEN - {"t"}) == 2
    assert _relation_to_widen(CHAIN, "a", CHAIN_HIDDEN - {"s"}) == 1


def test_a_relation_that_shares_no_count_with_the_withheld_one_is_never_widened():
    assert _relation_to_widen(CHAIN, "a", CHAIN_HIDDEN | {"d"}) is None
