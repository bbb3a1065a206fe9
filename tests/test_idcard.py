"""Resident ID numbers (GB 11643-1999): validation, birth date, gender and fake numbers."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huimin.identity.idcard import (
    FAKE_REGIONS,
    Gender,
    birth_date_of,
    check_character,
    fake_id_number,
    gender_of,
    validate_id_number,
)

TODAY = date(2025, 6, 1)
# The worked example printed in GB 11643-1999 (Beijing Chaoyang, born 1949-12-31, female).
STANDARD_EXAMPLE = "11010519491231002X"
CJK = re.compile(r"[\u4e00-\u9fff]")


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


def problem_code(value: str) -> str | None:
    problem = validate_id_number(value, today=TODAY).problem
    return problem.code if problem else None


def test_standard_example_is_valid() -> None:
    check = validate_id_number(STANDARD_EXAMPLE, today=TODAY)
    assert check.ok and check.problem is None
    assert check.birth_date == date(1949, 12, 31)
    assert check.gender is Gender.FEMALE


def test_check_character_values() -> None:
    # Computed by hand: sum of digit x weight (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2), mod 11.
    assert check_character("11010519491231002") == "X"  # 167 % 11 == 2
    assert check_character("34010419900101123") == "9"  # 179 % 11 == 3
    assert check_character("11010519800101001") == "6"  # 116 % 11 == 6


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("11010519491231002x", STANDARD_EXAMPLE),
        (" 110105 19491231 002X ", STANDARD_EXAMPLE),
        ("110105-19491231-002X", STANDARD_EXAMPLE),
        ("１１０１０５１９４９１２３１００２Ｘ", STANDARD_EXAMPLE),
    ],
)
def test_input_is_normalised(value: str, normalised: str) -> None:
    check = validate_id_number(value, today=TODAY)
    assert check.ok and check.number == normalised


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("11010519491231002", "wrong_length"),  # 17 characters
        ("11010519491231002X1", "wrong_length"),
        ("110105491231002", "old_15_digit"),
        ("1101051949123100AX", "bad_characters"),  # a letter before the end
        ("1101O519491231002X", "bad_characters"),  # letter O for zero
        ("11010519491231002Y", "bad_characters"),
        (with_check("99010519491231002"), "bad_region"),
        (with_check("00000019491231002"), "bad_region"),
        (with_check("66010519491231002"), "bad_region"),
        (with_check("11010519900230002"), "bad_birth_date"),  # Feb 30
        (with_check("11010519901301002"), "bad_birth_date"),  # month 13
        (with_check("11010520230229002"), "bad_birth_date"),  # 2023 is not a leap year
        (with_check("11010520250602002"), "future_birth_date"),  # the day after TODAY
        (with_check("11010518991231002"), "birth_date_too_early"),
        ("110105194912310021", "bad_check_digit"),
        ("340104199001011234", "bad_check_digit"),
    ],
)
def test_problems(value: str, code: str) -> None:
    assert problem_code(value) == code


@pytest.mark.parametrize(
    "value",
    [
        with_check("11010520240229002"),  # leap day
        with_check("11010520250601002"),  # born TODAY
        with_check("11010519000101002"),  # earliest accepted
        with_check("71000019800101001"),  # Taiwan
        with_check("81000019800101001"),  # Hong Kong
        with_check("82000019800101001"),  # Macao
        with_check("65010219800101001"),
    ],
)
def test_boundary_cases_are_valid(value: str) -> None:
    assert problem_code(value) is None


def test_messages_are_chinese_for_citizens_and_english_for_operators() -> None:
    values = ["", "123", "1101O519491231002X", with_check("99010519491231002")]
    values += [with_check("11010519900230002"), "110105194912310021"]
    values += [with_check("11010520250602002"), with_check("11010518991231002"), "110105491231002"]
    for value in values:
        problem = validate_id_number(value, today=TODAY).problem
        assert problem is not None
        assert CJK.search(problem.citizen_message), problem
        assert problem.operator_message.isascii(), problem
        # The full number must not leak into messages that end up in logs.
        if len(value) >= 15:
            assert value not in problem.operator_message
            assert value not in problem.citizen_message


def test_check_digit_message_matches_the_brief() -> None:
    problem = validate_id_number("110105194912310021", today=TODAY).problem
    assert problem is not None
    assert problem.citizen_message == "身份证号最后一位校验码不对，请检查"


def test_default_today_refuses_future_dates() -> None:
    next_year = date.today().year + 1
    assert not validate_id_number(with_check(f"110105{next_year}0101002")).ok


def test_birth_date_and_gender() -> None:
    male = with_check("34010419900101123")  # 17th digit 3: odd
    female = with_check("34010419900101124")
    assert birth_date_of(male) == date(1990, 1, 1)
    assert gender_of(male) is Gender.MALE
    assert gender_of(female) is Gender.FEMALE
    with pytest.raises(ValueError):
        birth_date_of("1234")
    with pytest.raises(ValueError):
        gender_of("1234")


@given(st.randoms(use_true_random=False))
def test_fakes_are_valid(rng: random.Random) -> None:
    number = fake_id_number(rng)
    check = validate_id_number(number)
    assert check.ok, (number, check.problem)
    assert number[:6] in FAKE_REGIONS


@given(
    st.randoms(use_true_random=False),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    st.sampled_from(Gender),
    st.sampled_from(["110101", "650102", "820000"]),
)
def test_fakes_honour_requested_attributes(
    rng: random.Random, birth: date, gender: Gender, region: str
) -> None:
    number = fake_id_number(rng, birth=birth, gender=gender, region=region)
    check = validate_id_number(number)
    assert check.ok
    assert check.birth_date == birth
    assert check.gender is gender
    assert number.startswith(region)


def test_fakes_are_repeatable_with_a_seed() -> None:
    assert fake_id_number(random.Random(7)) == fake_id_number(random.Random(7))


@given(st.randoms(use_true_random=False), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_character_change_is_caught(
    rng: random.Random, position: int, replacement: str
) -> None:
    number = fake_id_number(rng)
    changed = number[:position] + replacement + number[position + 1 :]
    if changed != number:
        assert not validate_id_number(changed).ok
