"""Reading citizens' replies to fact questions, and choosing which fact to ask next."""

from __future__ import annotations

from datetime import date

import pytest

from huimin.benefits.check import check
from huimin.benefits.questions import (
    CONSENT,
    SAVE,
    SESSION_ONLY,
    consent_question,
    next_fact,
    question,
    read,
)
from huimin.residents.facts import Facts
from huimin.rules import load_rules

TODAY = date(2025, 6, 30)


def value(fact: str, reply: str):
    reading = read(question(fact), reply, TODAY)
    assert reading.kind == "value", (reply, reading)
    return reading.value


@pytest.mark.parametrize(("reply", "expected"), [
    ("1", True), ("２", False), ("是", True), ("是的", True), ("对", True), ("不是", False),
    ("没有", False), ("否。", False), ("yes", True),
])
def test_yes_no(reply, expected):
    assert value("local_hukou", reply) is expected


def test_choices_by_number_label_or_sentence():
    q = question("employment_status")
    assert q.text == "您的就业状态是？"
    assert [label for _, label in q.choices][-1] == "不清楚"
    assert value("employment_status", "3") == "flexible"
    assert value("employment_status", "灵活就业") == "flexible"
    assert value("employment_status", "我现在是个体经营") == "self_employed"
    assert read(q, "9", TODAY).kind == "unclear"
    assert read(q, "7", TODAY).kind == "skip"  # 不清楚
    assert read(q, "我也不知道", TODAY).kind == "skip"


def test_dates_and_numbers_in_everyday_forms():
    assert value("birth_date", "1960-05-01") == date(1960, 5, 1)
    assert value("birth_date", "1960年5月1日") == date(1960, 5, 1)
    assert value("birth_date", "１９６０/5/1") == date(1960, 5, 1)
    assert value("certificate_date", "2025.3.15号") == date(2025, 3, 15)
    assert value("pension_contribution_years", "15年") == 15
    assert value("unemployment_insurance_months", "交了36个月") == 36
    bad = read(question("birth_date"), "1960-02-30", TODAY)
    assert bad.kind == "unclear" and "不是有效日期" in bad.hint
    assert "例如" in read(question("birth_date"), "去年", TODAY).hint
    future = read(question("certificate_date"), "2026-01-01", TODAY)
    assert future.hint == "这个日期还没到，请再看一下。"
    assert "应在1至5级之间" in read(question("certificate_level"), "6", TODAY).hint
    assert read(question("pension_contribution_years"), "不清楚", TODAY).kind == "skip"


def test_consent_and_stop():
    q = consent_question(3)
    assert q.key == CONSENT and "3项" in q.text
    assert read(q, "1", TODAY).value == SAVE
    assert read(q, "可以", TODAY).value == SAVE
    assert read(q, "不保存", TODAY).value == SESSION_ONLY
    assert read(q, "只这次用，不保存", TODAY).value == SESSION_ONLY
    assert read(q, "3", TODAY).kind == "stop"
    assert read(q, "不用了", TODAY).kind == "stop"
    for reply in ("0", "不答了", "算了，直接看结果"):
        assert read(question("local_hukou"), reply, TODAY).kind == "stop"


def test_next_fact_is_the_one_most_open_policies_wait_for():
    book = load_rules()
    answers = check(book, {}, Facts(birth_date=date(1940, 3, 1)), TODAY)
    first = next_fact(answers, skipped=())
    assert first == "receiving_pension"  # five of the eight rules test it
    assert next_fact(answers, skipped=[first]) != first
    everything = {f for a in answers for f in a.missing}
    assert next_fact(answers, skipped=everything) is None
