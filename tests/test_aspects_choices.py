"""The aspect asked (issue 14), session 12d: a choice that closes the question ("自己去拿还是
寄到家") asks which of its alternatives, read with words that only a choice gives a meaning
(how it is paid out, who receives it); how many trips or where to tap on a phone ask how it
is done; 受理 asks whether it may be done; a place said with 那里 before such a verb, or 在 a
place opening the question, asks where; a 那 that points at what was named is no 哪. On the
real catalogue and vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from huimin.catalogue import aspect_of
from huimin.catalogue.vocabulary import load_aspects

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # how it is paid out or handed over
        ("高龄津贴是发现金还是打到存折上", "process"),
        ("技能提升补贴是打到社保卡还是打到银行卡", "process"),
        ("社保卡办好了是自己去网点拿还是寄到家里", "process"),
        ("职称评审是单位推荐还是个人直接报", "process"),
        # who receives it
        ("见习补贴是给学生还是给企业的", "eligibility"),
        # places to go to
        ("创业担保贷款先找银行还是先找人社局", "where"),
        ("劳动仲裁是去人社局还是去法院", "where"),
        # what is given, paid in one go or by month
        ("居家养老补贴给的是钱还是上门服务", "amount"),
        ("一次性创业补贴是一次给完还是分几次给", "amount"),
        ("灵活就业参保是按月交还是按年交", "fee"),
    ],
)
def test_a_choice_asks_which_alternative(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # words of a choice only: outside one, the question is asked elsewhere
        ("创业补贴啥时候能打到卡上", "deadline"),
        ("失业金申请完几天能打到银行卡", "deadline"),
        # 还是 meaning "still" is no choice
        ("领完了还是没找到工作去哪里登记", "where"),
    ],
)
def test_words_of_a_choice_are_read_only_in_one(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


def test_a_choice_reaches_back_a_few_characters_only(names) -> None:
    story = "她每个月都有高龄的钱打到卡上我们家老爷子一直没领过这个是去哪里办的社区还是街道"
    assert aspect_of(story, ignore=names) == "where"


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("办退休要跑几道门", "process"),
        ("劳动调解要去几个地方", "process"),
        ("失业登记在手机上从哪里点进去", "process"),
        ("缴费记录打印在小程序上点哪个", "process"),
        ("失业金最多领几年", "amount"),
        ("老人补贴几年涨一回", "deadline"),
        ("就业登记能一次办好吗", "process"),
    ],
)
def test_trips_taps_and_years(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # 受理 asks whether it may be done: after time gone by, whether it is too late
        ("厂里欠的工资拖了一年多了劳动监察那边还受理不", "deadline"),
        ("劳动仲裁过了一年了还受理不嘛", "deadline"),
        # a place, pointed at with 那里, or opening the question after 在
        ("社保卡在村委会那里领得到不", "where"),
        ("城乡居民养老保险在村里能交不", "where"),
        ("户口还在老家能不能申请失业金", "eligibility"),
        # a channel before a two-character verb of can: how it is done
        ("失业金在微信那里申请得了不", "process"),
        ("居民养老保险在公众号那里交得了不", "process"),
        # 再那里 is still a slip for 在哪里
        ("劳动监察投诉再那里", "where"),
    ],
)
def test_may_words_and_places(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


def test_choice_words_are_data(tmp_path) -> None:
    question = load_aspects().question
    assert "还是" in question.choice_words and "那里" in question.place_suffixes
    assert ("打到存折", "process") in question.alternatives
    source = (ROOT / "policies" / "_aspects.yml").read_text(encoding="utf-8")
    bad = tmp_path / "_aspects.yml"
    wrong = source.replace("  fee: >-\n    按月交", "  charges: >-\n    按月交", 1)
    bad.write_text(wrong, encoding="utf-8")
    with pytest.raises(ValueError):
        load_aspects(bad)
