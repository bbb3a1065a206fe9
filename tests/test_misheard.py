"""Policy names typed or heard wrongly (huimin/catalogue/misheard.py), on the real catalogue:
pinyin letters left by the input method, a name's pinyin initials, a character typed twice,
traditional characters; and what must not be read as a name."""

from __future__ import annotations

from pathlib import Path

import pytest

from huimin.catalogue.dialect import load_traditional, simplified
from huimin.catalogue.misheard import fuzzy_names
from huimin.catalogue.resolver import resolve
from huimin.catalogue.sounds import loosen, sounds
from huimin.catalogue.text import normalise

ROOT = Path(__file__).resolve().parent.parent


def _keys(catalogue, text: str) -> list[str]:
    return [p.key for p in fuzzy_names(catalogue, text)]


def test_loosen_merges_the_sounds_sounds_merges() -> None:
    assert loosen("sheng") == "sen" and loosen("zhi") == "zi" and loosen("bang") == "ban"
    assert loosen("sheng") in sounds("生")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # syllables the pinyin input method left in letters
        ("失业jin能领多久", "unemployment_insurance"),
        ("shebao卡要带啥", "social_security_card"),
        ("社保ka丢了怎么补", "social_security_card"),
        ("失业bao险金怎么领", "unemployment_insurance"),
        ("shiyejin", "unemployment_insurance"),  # the whole name in letters
        # pinyin initials of a whole name
        ("sydj需要什么资料", "unemployment_registration"),
        ("gsrd去哪里申请", "work_injury_recognition"),
        ("ldzc怎么申请", "labor_arbitration"),
        ("cybt怎么申请", "startup_subsidy"),
        ("syj怎么申请", "unemployment_insurance"),
        # one inner character typed twice
        ("社保保卡怎么办理", "social_security_card"),
        ("工伤认认定要多久", "work_injury_recognition"),
    ],
)
def test_names_typed_in_letters_or_doubled(catalogue, text: str, key: str) -> None:
    assert _keys(catalogue, text) == [key]
    found = resolve(catalogue, None, text)
    assert found.decision == "answer" and found.policies[0].key == key


@pytest.mark.parametrize(
    "text",
    [
        "失业jinx",  # a run of letters is never cut in the middle
        "xshebao卡",
        "shiyejinn",
        "app打不开",
        "ok谢谢",
        "wifi密码是多少",
        "我想去考考证补贴",  # a doubled character at the start: the name is verbatim anyway
        "ylj怎么领",  # initials of no whole name
    ],
)
def test_letters_that_name_no_policy(catalogue, text: str) -> None:
    assert _keys(catalogue, text) == []


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # no character of the name is written the same in simplified: only the table reads it
        ("創業補貼多少錢", "startup_subsidy"),
        ("職稱評審要什麼條件", "professional_title"),
        ("勞動仲裁在哪裡", "labor_arbitration"),
    ],
)
def test_traditional_characters_are_read_simplified(catalogue, text: str, key: str) -> None:
    assert normalise(text) == normalise(simplified(text))
    found = resolve(catalogue, None, text)
    assert (found.decision, found.evidence, found.policies[0].key) == ("answer", "name", key)


def test_simplified_text_is_left_as_it_is() -> None:
    assert simplified("于是著名的乾隆年间") == "于是著名的乾隆年间"
    assert simplified("創業補貼多少錢") == "创业补贴多少钱"


def test_the_traditional_table_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "_dialect.yml"
    bad.write_text("words: {啥: 什么}\ncharacters: {業: 业, 业: 亚}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="characters"):
        load_traditional(bad)
    assert len(load_traditional()) > 200


@pytest.mark.parametrize(
    ("text", "expected", "decision"),
    [
        # a shorter name said verbatim inside a longer name misheard: the longer is meant
        ("求直创业补贴要什么材料", ["graduate_job_search_subsidy"], "answer"),
        ("求织创业补助在哪办", ["graduate_job_search_subsidy"], "answer"),
        ("格人社保补贴要什么材料", ["flexible_employment_subsidy"], "answer"),
        # one character of another sound: could be either, the name said first
        ("想求个创业补贴", ["startup_subsidy", "graduate_job_search_subsidy"], "ask"),
        # the sentence going on after a name is no longer name ("失业保险考" ~ 失业保险金)
        ("创业补贴多少", ["startup_subsidy"], "answer"),
    ],
)
def test_a_name_inside_a_longer_name_misheard(
    catalogue, text: str, expected: list[str], decision: str
) -> None:
    found = resolve(catalogue, None, text)
    assert found.decision == decision
    assert [p.key for p in found.policies] == expected


_FLEXIBLE, _ENROLMENT = "flexible_employment_subsidy", "flexible_worker_enrollment"


@pytest.mark.parametrize(
    ("text", "expected", "decision"),
    [
        # a longer name one character off in its generic ending, a shorter one off elsewhere
        ("灵活就业社保补簿多少钱", [_FLEXIBLE, _ENROLMENT], "ask"),
        ("个人社保贴怎么办理", [_FLEXIBLE, _ENROLMENT], "ask"),
        # a name of six or more one character off beats the situation its words tell
        ("创业场地数金补贴怎么办理", ["startup_venue_subsidy"], "answer"),
        # a longer name with a character left out around a shorter name said
        ("求创业补贴怎么办理", ["startup_subsidy", "graduate_job_search_subsidy"], "ask"),
        ("灵就业社保补贴谁能申请", ["flexible_employment_subsidy"], "answer"),
    ],
)
def test_look_alike_names_typed_wrongly(
    catalogue, text: str, expected: list[str], decision: str
) -> None:
    found = resolve(catalogue, None, text)
    assert found.decision == decision
    assert [p.key for p in found.policies] == expected


def test_a_name_misheard_where_a_long_question_asks_outranks_one_said_in_its_story(
    catalogue, referrals
) -> None:
    """居民养老金 (said verbatim) is what the uncle draws; 养老金认正 (认证 misheard) is asked."""
    text = (
        "我舅舅七十好几了在村里一直领着那个居民养老金这两个月卡上没见着钱"
        "我寻思着是不是那个养老金认正没弄"
    )
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer"
    assert [p.key for p in found.policies] == ["pension_certification"]
    short = resolve(catalogue, referrals, "居民养老金和养老金认正")  # short: the name said stands
    assert short.policies[0].key == "residents_basic_pension"
