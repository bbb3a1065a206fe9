"""Status and colour of the employment code, derived from a resident's facts."""

from datetime import date

import pytest

from huimin.employment_code import (
    DEFINITIONS,
    Colour,
    InsufficientFactsError,
    Status,
    definition,
    derive_status,
)

TODAY = date(2025, 6, 15)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"employment_status": "employed"}, Status.EMPLOYED),
        ({"employment_status": "flexible"}, Status.EMPLOYED),
        ({"employment_status": "self_employed"}, Status.EMPLOYED),
        ({"employment_status": "student"}, Status.NOT_IN_LABOUR_MARKET),
        ({"employment_status": "retired"}, Status.NOT_IN_LABOUR_MARKET),
        ({"employment_status": "unemployed"}, Status.JOB_SEEKING),
        ({"registered_unemployed": True}, Status.JOB_SEEKING),
        ({"looking_for_work": True}, Status.JOB_SEEKING),
        ({"employment_status": "unemployed", "hard_to_employ": True}, Status.PRIORITY),
        ({"employment_status": " Unemployed "}, Status.JOB_SEEKING),
    ],
)
def test_status_from_facts(facts: dict, expected: Status) -> None:
    assert derive_status(facts, today=TODAY) is expected


def test_orange_wins_over_blue_for_registered_hard_to_employ() -> None:
    facts = {"registered_unemployed": True, "looking_for_work": True, "hard_to_employ": True}
    assert derive_status(facts, today=TODAY) is Status.PRIORITY


def test_current_job_wins_over_stale_unemployment_flags() -> None:
    facts = {
        "employment_status": "employed",
        "registered_unemployed": True,
        "hard_to_employ": True,
        "unemployed_since": "2020-01-01",
    }
    assert derive_status(facts, today=TODAY) is Status.EMPLOYED


def test_student_is_grey_even_if_looking_for_work() -> None:
    facts = {"employment_status": "student", "looking_for_work": True}
    assert derive_status(facts, today=TODAY) is Status.NOT_IN_LABOUR_MARKET


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (date(2024, 12, 15), Status.JOB_SEEKING),  # exactly 6 months: not more than 6
        (date(2024, 12, 14), Status.PRIORITY),  # 6 months and a day
        ("2024-12-14", Status.PRIORITY),
        ("2025-06-01", Status.JOB_SEEKING),
    ],
)
def test_unemployed_more_than_six_months_is_orange(since: object, expected: Status) -> None:
    facts = {"employment_status": "unemployed", "unemployed_since": since}
    assert derive_status(facts, today=TODAY) is expected


@pytest.mark.parametrize(("months", "expected"), [(6, Status.JOB_SEEKING), (7, Status.PRIORITY)])
def test_months_unemployed(months: int, expected: Status) -> None:
    facts = {"registered_unemployed": True, "months_unemployed": months}
    assert derive_status(facts, today=TODAY) is expected


def test_unemployed_since_outranks_months_count() -> None:
    facts = {"employment_status": "unemployed", "unemployed_since": "2025-05-01"}
    facts["months_unemployed"] = 12
    assert derive_status(facts, today=TODAY) is Status.JOB_SEEKING


def test_unknown_employment_status_names_the_field() -> None:
    with pytest.raises(ValueError, match="employment_status.*'freelance'"):
        derive_status({"employment_status": "freelance"}, today=TODAY)


def test_no_usable_facts() -> None:
    with pytest.raises(InsufficientFactsError):
        derive_status({"hard_to_employ": True}, today=TODAY)


def test_bad_unemployed_since_names_the_field() -> None:
    with pytest.raises(ValueError, match="unemployed_since"):
        derive_status(
            {"employment_status": "unemployed", "unemployed_since": "last spring"}, today=TODAY
        )


def test_months_unemployed_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="months_unemployed"):
        derive_status({"registered_unemployed": True, "months_unemployed": "7"}, today=TODAY)


def test_each_status_has_its_own_colour_label_and_services() -> None:
    expected = {
        Status.EMPLOYED: (Colour.GREEN, "绿码"),
        Status.JOB_SEEKING: (Colour.BLUE, "蓝码"),
        Status.PRIORITY: (Colour.ORANGE, "橙码"),
        Status.NOT_IN_LABOUR_MARKET: (Colour.GREY, "灰码"),
    }
    assert set(DEFINITIONS) == set(Status)
    for status, (colour, prefix) in expected.items():
        d = definition(status)
        assert d.colour is colour
        assert d.label.startswith(prefix + " · ")
        assert d.services and all(s.key and s.name for s in d.services)
        assert d.hex.startswith("#") and len(d.hex) == 7
    assert len({d.hex for d in DEFINITIONS.values()}) == len(DEFINITIONS)
