"""Questions naming an occupation's certificate instead of a policy (policies/_certificates.yml,
huimin/catalogue/certificates.py), resolved with the real catalogue and referrals."""

from __future__ import annotations

from datetime import date

import pytest

from huimin.catalogue.answers import reply_to_question
from huimin.catalogue.certificates import CERTIFICATES_FILE, load_certificates
from huimin.catalogue.resolver import resolve

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("text", "key", "aspect"),
    [
        # the certificate alone: the certification itself
        ("考电工证去哪里报名", "skill_level_certification", "where"),
        ("厨师证怎么考", "skill_level_certification", "process"),
        ("养老护理员证谁能报考", "skill_level_certification", None),
        # paying for the course: the training subsidy
        ("考焊工证的学费政府给报吗", "vocational_training_subsidy", None),
        # money for having passed: the upgrade subsidy
        ("我老婆考了个育婴师证有补贴不", "skill_upgrade_subsidy", None),
    ],
)
def test_a_certificate_names_its_policy(catalogue, referrals, text, key, aspect) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and [p.key for p in found.policies] == [key]
    out = reply_to_question(catalogue, TODAY, text, referrals=referrals)
    assert out.policy is not None and out.policy.key == key
    assert catalogue[key].title in out.reply.text
    if aspect is not None:
        assert out.aspect == aspect


@pytest.mark.parametrize(
    "text",
    [
        "请护理员上门照顾老人有补贴吗",  # an occupation, but no certificate asked about
        "教师资格证在哪考",  # another department's qualification: not in the list
        "电工证和职业技能等级认定有什么区别",  # a policy named: the name decides
    ],
)
def test_without_an_occupations_certificate_the_rule_stays_out(catalogue, referrals, text):
    found = resolve(catalogue, referrals, text)
    assert found.evidence != "name" or any(
        name in text for p in found.policies for name in p.names)


def test_the_certificates_file_is_checked(tmp_path) -> None:
    good = CERTIFICATES_FILE.read_text(encoding="utf-8")
    bad = tmp_path / "_certificates.yml"
    bad.write_text(good.replace("default:", "fallback:"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"_certificates.yml: field '(default|fallback)'"):
        load_certificates(bad)
    bad.write_text(good.replace("policy: skill_upgrade_subsidy", "policy: Skill Upgrade"),
                   encoding="utf-8")
    with pytest.raises(ValueError, match=r"field 'when.1.policy'"):
        load_certificates(bad)
