"""Policy Q&A, candidates, fallback and hand-off through the whole stack: WeChat message (built
and opened by the emulator, as WeChat would) -> web callback -> Rasa -> action server ->
catalogue and database -> the citizen's screen."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from huimin.catalogue import load_catalogue
from huimin.ops import conversation_log, review
from huimin.platform.db import Database
from huimin.platform.settings import ROOT

pytestmark = pytest.mark.e2e

CATALOGUE = load_catalogue(ROOT / "policies")


class Citizen:
    """One WeChat user. An answer comes back as the passive reply or, when the assistant
    took longer than the reply budget, as customer-service messages shortly after."""

    def __init__(self, stack) -> None:
        self.openid = f"o-qa-{uuid.uuid4().hex[:10]}"
        self.emulator, self.web = stack.url("emulator"), stack.url("web")

    def pushed(self) -> list[str]:
        msgs = requests.get(f"{self.emulator}/_emulator/messages",
                            params={"touser": self.openid}, timeout=5).json()["messages"]
        return [m["body"]["text"]["content"] for m in msgs if m["body"].get("text")]

    def say(self, words: str, wait: float = 30) -> str:
        before = len(self.pushed())
        env = requests.post(f"{self.emulator}/_emulator/envelope",
                            json={"openid": self.openid, "msg_type": "text", "content": words},
                            timeout=5).json()
        resp = requests.post(f"{self.web}/wechat/callback", params=env["query"],
                             data=env["body"].encode(), headers={"Content-Type": "text/xml"},
                             timeout=15)
        assert resp.status_code == 200, resp.text
        opened = requests.post(f"{self.emulator}/_emulator/open",
                               json={"body": resp.text, "query": env["query"]}, timeout=5).json()
        if opened.get("content"):
            return opened["content"]
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            later = self.pushed()[before:]
            if later:
                return "\n".join(later)
            time.sleep(0.3)
        raise AssertionError(f"no answer to {words!r} within {wait} s")


@pytest.fixture
def citizen(stack) -> Citizen:
    return Citizen(stack)


def test_policy_question_is_answered_from_the_catalogue_on_the_aspect(citizen) -> None:
    policy = CATALOGUE["unemployment_insurance"]
    answer = citizen.say("失业金一个月能领多少钱")
    assert answer.startswith("【失业保险金】标准和金额")
    assert policy.amount in answer
    assert "回复 1：申请条件" in answer


def test_overview_then_numbered_follow_up_then_a_follow_up_in_words(citizen) -> None:
    policy = CATALOGUE["startup_subsidy"]
    overview = citizen.say("我想了解一下一次性创业补贴")
    assert overview.startswith("【一次性创业补贴】") and policy.summary in overview
    assert "回复 3：所需材料" in overview
    materials = citizen.say("3")  # the channel maps the digit to the button's payload
    assert materials.startswith("【一次性创业补贴】所需材料")
    assert all(item in materials for item in policy.materials)
    where = citizen.say("那去哪里办呢")
    assert where.startswith("【一次性创业补贴】在哪办理") and policy.where.address in where


def test_unhelpful_answer_reaches_the_review_inbox(citizen, stack) -> None:
    question = "失业金一个月能领多少钱"
    answer = citizen.say(question)
    assert "回复 5：没帮到我" in answer
    sorry = citizen.say("5")  # the button, by its number
    assert "抱歉没帮上您" in sorry and "回复 1：转人工" in sorry
    redis_conn = redis.Redis.from_url(stack.env["REDIS_URL"])
    db = Database(stack.env["DATABASE_URL"])
    deadline = time.monotonic() + 30
    flagged: list[str] = []
    while time.monotonic() < deadline and question not in flagged:  # events reach the stream
        with db.session() as session:  # after Rasa's reply, so poll
            conversation_log.ingest(session, redis_conn)
            flagged = [m.text for m in session.scalars(
                review.inbox_query(review.InboxFilter(0.5, reason="unhelpful")))]
        time.sleep(0.5)
    db.engine.dispose()
    assert question in flagged


def test_one_clear_candidate_is_answered_and_close_ones_are_offered(citizen) -> None:
    """Issue 14: a clear question is answered at once (never a one-item menu); a menu only
    when candidates are close, best first, and a choice answers."""
    # At the start of a conversation: after a policy answer, a question naming no policy
    # of its own is taken as a follow-up about that policy.
    menu = citizen.say("养老金的事怎么办")  # certification, retiring or residents' pension
    first, second = [CATALOGUE[h.key] for h in CATALOGUE.search("养老金的事怎么办", k=2)]
    assert menu.startswith("您问的是哪一项？")
    assert f"回复 1：{first.title}" in menu and f"回复 2：{second.title}" in menu
    chosen = citizen.say("2")
    assert chosen.startswith(f"【{second.title}】")
    answer = citizen.say("我想问问那个4050的补贴")
    assert answer.startswith("【灵活就业人员社会保险补贴】") and "您问的是哪一项" not in answer


def test_misheard_name_and_fee_question_are_answered(citizen) -> None:
    policy = CATALOGUE["social_security_card"]
    fee = citizen.say("社宝卡补办收费吗")
    assert fee.startswith(f"【{policy.title}】收不收费") and policy.fee in fee


def test_follow_ups_keep_the_policy_and_switch_to_a_new_one(citizen) -> None:
    insurance, startup = CATALOGUE["unemployment_insurance"], CATALOGUE["startup_subsidy"]
    where = citizen.say("失业金在哪办")
    assert where.startswith(f"【{insurance.title}】在哪办理") and insurance.where.address in where
    materials = citizen.say("那要带什么材料")
    assert materials.startswith(f"【{insurance.title}】所需材料")
    assert insurance.materials[0] in materials
    switched = citizen.say("那创业补贴呢")
    assert switched.startswith(f"【{startup.title}】所需材料")
    assert startup.materials[0] in switched


def test_two_policies_in_one_question_are_answered_side_by_side(citizen) -> None:
    answer = citizen.say("职业培训补贴和技能提升补贴哪个钱多")
    assert "您问的是哪一项" not in answer
    for key in ("vocational_training_subsidy", "skill_upgrade_subsidy"):
        policy = CATALOGUE[key]
        assert f"【{policy.title}】标准和金额" in answer and policy.amount in answer


def test_another_departments_matter_is_referred_there(citizen) -> None:
    answer = citizen.say("公积金怎么提取出来")
    assert "住房公积金管理中心" in answer and "12329" in answer
    assert not [p.title for p in CATALOGUE if p.title in answer]


def test_two_failures_in_a_row_hand_off_with_a_ticket(citizen, stack) -> None:
    first = citizen.say("/nlu_fallback")
    assert "换个说法" in first and "转人工" in first
    second = citizen.say("/nlu_fallback")
    assert "工单号" in second and "12333" in second
    engine = create_engine(stack.env["DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT reason, transcript FROM handoff_tickets")).all()
    engine.dispose()
    reasons = [r.reason for r in rows
               if any("换个说法" in t["text"] for t in _turns(r.transcript))]
    assert "assistant_failed" in reasons


def _turns(transcript) -> list[dict]:
    return json.loads(transcript) if isinstance(transcript, str) else transcript


def test_out_of_scope_says_what_the_assistant_can_do(citizen) -> None:
    answer = citizen.say("今天天气怎么样")
    assert "答不了" in answer and "12345" in answer and "回复 1：查政策" in answer


def test_guide_commands_outside_a_guide_answer_honestly(citizen) -> None:
    assert citizen.say("下一步").startswith("现在没有正在进行的办事指引")


def test_which_other_benefits_after_an_answer_is_the_benefits_check(stack, citizen) -> None:
    """"还有什么补贴我能领" after a policy answer is the benefits check's question, as the same
    question asked first would be; the policy is kept for a follow-up after it."""
    first = Citizen(stack).say("我能领哪些补贴")
    insurance = CATALOGUE["unemployment_insurance"]
    assert citizen.say("失业金在哪办").startswith(f"【{insurance.title}】在哪办理")
    other = citizen.say("还有什么补贴我能领")
    assert other == first and not other.startswith("【"), other
