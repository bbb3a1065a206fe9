"""Two policies asked together with their shared words said once (huimin.catalogue.coordination),
on the real catalogue."""

from __future__ import annotations

import pytest

from huimin.catalogue.coordination import elided_second
from huimin.catalogue.resolver import resolve


@pytest.mark.parametrize(("text", "first", "second"), [
    ("劳动调解和仲裁哪个快", "labor_dispute_mediation", "labor_arbitration"),
    ("一次性创业补贴和场地补贴能一起申请吗", "startup_subsidy", "startup_venue_subsidy"),
])
def test_the_second_name_is_completed_from_the_first(catalogue, referrals, text, first,
                                                     second) -> None:
    assert elided_second(catalogue, catalogue[first], text) == catalogue[second]
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer"
    assert [p.key for p in found.policies] == [first, second]


@pytest.mark.parametrize(("text", "first"), [
    ("创业担保贷款和房贷能一起贷吗", "startup_guarantee_loan"),  # 创业房贷 is no name
    ("劳动仲裁要多久", "labor_arbitration"),  # nothing joined
    ("高龄津贴和我妈说的一样吗", "elderly_allowance"),  # what follows is no name
])
def test_no_second_policy_without_a_name_completed(catalogue, text, first) -> None:
    assert elided_second(catalogue, catalogue[first], text) is None
