"""Issue 14, session 12h: two-turn follow-ups that go on from the discussed policy once it went
through ("认定通过了医药费谁给报" after 工伤认定), that ask for the matter's subsidy though
retrieval guesses a third policy weakly, that say another department's word which the
discussed policy's own text for that aspect says too, and that ask the same again of the
policy moved on to ("调解不成呢" after where 劳动争议调解 is done). Real catalogue and
referrals."""

from __future__ import annotations

import pytest

from huimin.catalogue.follow_ups import (
    asked_of_previous,
    aspect_kept,
    carried_on,
    refers_by_own_word,
    still_about_previous,
)
from huimin.catalogue.resolver import resolve


def _moved(catalogue, referrals, text: str, previous: str):
    asked = asked_of_previous(catalogue, referrals, text, previous)
    return asked[0] if asked is not None else still_about_previous(
        catalogue, referrals, text, previous)


def test_a_recognised_injury_goes_on_to_the_benefits(catalogue, referrals) -> None:
    """工伤认定's amount reads "认定为工伤后，可申请工伤保险待遇"."""
    moved = _moved(catalogue, referrals, "认定通过了医药费谁给报", "work_injury_recognition")
    assert moved is not None and moved.key == "work_injury_insurance"


def test_asking_when_it_goes_through_is_the_matter_itself(catalogue, referrals) -> None:
    """"多长时间能认定下来" asks 工伤认定's own time limit: nothing went through yet."""
    asked = asked_of_previous(catalogue, referrals, "那大概多长时间能认定下来",
                              "work_injury_recognition")
    assert asked is not None and asked[0].key == "work_injury_recognition"
    assert carried_on(catalogue, catalogue["work_injury_recognition"], "多久能认定下来") is None


def test_went_through_needs_a_hand_over_after_it(catalogue) -> None:
    """公益性岗位's text hands over to nothing once done."""
    assert carried_on(catalogue, catalogue["public_welfare_post"], "批了以后干什么") is None


def test_a_weak_third_guess_does_not_stop_the_matters_subsidy(catalogue, referrals) -> None:
    """"那政府给不给补贴" finds 公益性岗位 weakly; after 灵活就业人员参保登记 it asks for the
    flexible workers' subsidy."""
    moved = _moved(catalogue, referrals, "那政府给不给补贴", "flexible_worker_enrollment")
    assert moved is not None and moved.key == "flexible_employment_subsidy"


def test_a_word_of_the_aspects_own_text_stays(catalogue, referrals) -> None:
    """工伤认定's materials list 医院的首次诊断证明: 医院 is no health-department matter here."""
    asked = asked_of_previous(catalogue, referrals, "需要医院的诊断证明吗",
                              "work_injury_recognition")
    assert asked is not None and (asked[0].key, asked[1]) == (
        "work_injury_recognition", "materials")


@pytest.mark.parametrize(("text", "previous"), [
    ("开店的营业执照去哪办", "startup_subsidy"),
    ("那医保断了去哪续", "unemployment_insurance"),
])
def test_a_word_foreign_to_the_aspect_still_refers(catalogue, referrals, text: str,
                                                  previous: str) -> None:
    """一次性创业补贴's materials say 营业执照, its where does not: the licence itself."""
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer"
    assert asked_of_previous(catalogue, referrals, text, previous) is None
    assert not refers_by_own_word(referrals, text, catalogue[previous], "where", found)


def test_asking_the_same_again_keeps_the_aspect_when_moved_on(catalogue) -> None:
    arbitration = catalogue["labor_arbitration"]
    assert aspect_kept("调解不成呢", arbitration, "labor_dispute_mediation", "where") == "where"
    assert aspect_kept("调解不成怎么办", arbitration, "labor_dispute_mediation", "where") is None
    assert aspect_kept("仲裁呢", arbitration, "labor_arbitration", "where") is None
    assert aspect_kept("调解不成呢", arbitration, "labor_dispute_mediation", "overview") is None


def test_the_referral_words_said_are_those_of_the_match(referrals) -> None:
    found_words = referrals.words_said("要带营业执照吗", referrals.match("要带营业执照吗"))
    assert "营业执照" in found_words
