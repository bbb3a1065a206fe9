"""Questions that name one policy but ask about its neighbour (policies/_handovers.yml,
huimin/catalogue/handovers.py), resolved with the real catalogue and referrals."""

from __future__ import annotations

import pytest

from huimin.catalogue.handovers import HANDOVERS_FILE, Handovers, load_handovers
from huimin.catalogue.resolver import resolve


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("工伤认定办下来以后能赔多少钱", "work_injury_insurance"),
        ("失业登记做完了 一个月能领多少", "unemployment_insurance"),
        ("办好退休手续以后 每年要刷脸吗", "pension_certification"),
        ("拿了一次性创业补贴 还想找银行贷款 利息多少", "startup_guarantee_loan"),
        ("劳动调解谈不拢 想去仲裁在哪里", "labor_arbitration"),
        ("老家交的城乡居民养老保险 能转到这边来吗", "pension_transfer"),
    ],
)
def test_the_neighbour_asked_about_is_answered(catalogue, referrals, text: str, key: str) -> None:
    found = resolve(catalogue, referrals, text)
    assert (found.decision, [p.key for p in found.policies]) == ("answer", [key])
    assert found.evidence == "name"  # settled by the words, as a name is


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # the neighbour's words only in the story before the name
        ("以后想拿赔偿 工伤认定去哪里申请", "work_injury_recognition"),
        # ... or after the clause that asks
        ("工伤认定多长时间 认定完才能赔", "work_injury_recognition"),
        ("一次性创业补贴给多少钱 我不要贷款", "startup_subsidy"),
        # an unless word keeps it: the question is about the policy named
        ("申请劳动仲裁之前必须调解吗", "labor_arbitration"),
    ],
)
def test_the_policy_named_is_kept_when_the_part_that_asks_is_about_it(
    catalogue, referrals, text: str, key: str
) -> None:
    found = resolve(catalogue, referrals, text)
    assert [p.key for p in found.policies][:1] == [key]


def test_two_names_said_are_not_handed_over(catalogue, referrals) -> None:
    found = resolve(catalogue, referrals, "失业登记办了 失业金能领多少")
    assert {p.key for p in found.policies} == {
        "unemployment_registration", "unemployment_insurance"}


def test_the_file_is_checked(tmp_path) -> None:
    bad = tmp_path / "_handovers.yml"
    bad.write_text(HANDOVERS_FILE.read_text(encoding="utf-8").replace("    words:", "    word:", 1),
                   encoding="utf-8")
    with pytest.raises(ValueError, match=r"_handovers.yml: field 'handovers.0.(word|words)'"):
        load_handovers(bad)
    with pytest.raises(ValueError):
        Handovers.model_validate({"handovers": [{"from": "a", "to": "a", "words": ["x"]}]})
