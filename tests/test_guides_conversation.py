"""Guide conversations through `GuideService` with sessions in real Redis, for every guide:
start, next, repeat, back, every check-question branch, stop, leaving and coming back
(resume offer within 7 days, fresh start after), care-mode wording and voice-style replies."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

import pytest
import redis

from huimin.guides import END, Command, Event, Guide, GuideStore
from huimin.guides.service import IDLE_RESUME, GuideService, Turn
from huimin.guides.storage import TTL, GuideStorageError, SessionStore
from huimin.platform.settings import ROOT

STORE = GuideStore(ROOT / "guides")
KEYS = sorted(STORE.guides)
T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
CLOSING = "要人帮忙：回复“转人工”，或打 12333。"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(redis_conn: redis.Redis, clock: Clock) -> GuideService:
    return GuideService(STORE, SessionStore(redis_conn), clock=clock)


def texts(turn: Turn | None) -> str:
    assert turn is not None
    return "\n".join(turn.reply.texts)


def routes(guide: Guide) -> dict[str, list[int | None]]:
    """Shortest replies from step 1 to every step: None is 下一步, a number answers a check."""
    first = guide.first_step.id
    paths: dict[str, list[int | None]] = {first: []}
    todo = deque([first])
    while todo:
        step = guide.step(todo.popleft())
        moves: list[tuple[int | None, str]]
        if step.check:
            moves = [(i, o.goto) for i, o in enumerate(step.check.options, 1)]
        else:
            moves = [(None, guide.next_of(step))]
        for reply, target in moves:
            if target != END and target not in paths:
                paths[target] = [*paths[step.id], reply]
                todo.append(target)
    return paths


def walk(service: GuideService, conversation: str, guide: Guide, to: str) -> None:
    service.start(conversation, guide.key, care_mode=False)
    for reply in routes(guide)[to]:
        if reply is None:
            service.step(conversation, command=Command.NEXT)
        else:
            service.step(conversation, choice=reply)
    session = service.active(conversation)
    assert session is not None and session.step_id == to


@pytest.mark.parametrize("key", KEYS)
def test_whole_guide_one_step_per_message_with_repeat_and_back(service, redis_conn, key):
    guide = STORE.guides[key]
    conv = f"u-{key}"
    first = service.start(conv, key, care_mode=False)
    assert first.event is Event.STARTED
    intro, step_one = first.reply.texts
    assert guide.title in intro and all(item in intro for item in guide.prepare)
    assert step_one.startswith(f"第 1 步（共 {guide.main_count} 步）")
    # Stored in Redis under the conversation, with the resume window as expiry.
    stored = f"huimin:guides:session:{conv}:{key}"
    assert 0 < redis_conn.ttl(stored) <= TTL.total_seconds()
    numbers = []
    for _ in range(len(guide.steps) + 1):
        session = service.active(conv)
        assert session is not None
        step = guide.step(session.step_id)
        numbers.append(guide.main_number(step.id))
        again = service.step(conv, text="再说一遍")
        assert again is not None and again.event is Event.STEP
        assert step.text in texts(again)
        if numbers[-1] and numbers[-1] > 1:
            back = service.step(conv, command=Command.BACK)
            assert back is not None and back.event is Event.STEP
            assert service.active(conv).step_id == session.history[-1]
            service.step(conv, choice=1)  # 1 is 下一步 or the main-path answer
            assert service.active(conv).step_id == step.id
        turn = service.step(conv, choice=1) if step.check else service.step(
            conv, text="下一步")
        assert turn is not None
        # One step per message: a single message, naming the next step's number.
        if turn.event is Event.FINISHED:
            break
        assert turn.event is Event.STEP and len(turn.reply.messages) == 1
    assert numbers == list(range(1, guide.main_count + 1))
    assert guide.done and guide.done in texts(turn)
    # Finished: the session is gone, a stray 下一步 is not the guide's any more.
    assert not redis_conn.exists(stored)
    assert service.step(conv, command=Command.NEXT) is None


@pytest.mark.parametrize("key", KEYS)
def test_every_check_question_branch(service, key):
    guide = STORE.guides[key]
    checked = 0
    for step in guide.steps:
        if not step.check:
            continue
        for number, option in enumerate(step.check.options, 1):
            conv = f"branch-{key}-{step.id}-{number}"
            walk(service, conv, guide, step.id)
            turn = service.step(conv, choice=number)
            checked += 1
            assert turn is not None
            if option.goto == END:
                assert turn.event is Event.FINISHED
                continue
            assert turn.event is Event.STEP
            assert service.active(conv).step_id == option.goto
            assert guide.step(option.goto).text in texts(turn)
    assert checked >= 2


@pytest.mark.parametrize("key", KEYS)
def test_stop_then_come_back_within_7_days_and_continue(service, clock, key):
    guide = STORE.guides[key]
    conv = f"resume-{key}"
    target = next(s for s in guide.steps if guide.main_number(s.id) == 3)
    walk(service, conv, guide, target.id)
    stopped = service.step(conv, text="不办了")
    assert stopped is not None and stopped.event is Event.STOPPED
    assert "先不办了" in texts(stopped)
    assert service.active(conv) is None  # replies are not the guide's any more

    clock.advance(timedelta(days=6))
    offer = service.start(conv, key, care_mode=False)
    assert offer.event is Event.RESUME_OFFERED
    assert "上次做到第 3 步，继续吗？" in texts(offer)
    assert [(o.number, o.label) for o in offer.reply.messages[-1].options] == [
        (1, "继续"), (2, "重新开始")]
    resumed = service.step(conv, text="1")
    assert resumed is not None and resumed.event is Event.RESUMED
    assert target.text in texts(resumed)
    assert service.active(conv).step_id == target.id


@pytest.mark.parametrize("key", KEYS)
def test_come_back_and_start_again(service, clock, key):
    guide = STORE.guides[key]
    conv = f"restart-{key}"
    second = next(s for s in guide.steps if guide.main_number(s.id) == 2)
    walk(service, conv, guide, second.id)
    clock.advance(timedelta(days=1))
    service.start(conv, key, care_mode=False)
    fresh = service.step(conv, text="重新开始")
    assert fresh is not None and fresh.event is Event.STARTED
    assert service.active(conv).step_id == guide.first_step.id


def test_after_7_days_the_guide_starts_afresh(service, clock):
    guide = STORE.guides["pension_certification"]
    walk(service, "late", guide, "open_cert")
    clock.advance(timedelta(days=7, minutes=1))
    assert service.offer_resume("late", care_mode=False) is None
    again = service.start("late", guide.key, care_mode=False)
    assert again.event is Event.STARTED
    assert service.active("late").step_id == guide.first_step.id


def test_next_after_a_long_break_offers_to_resume_instead_of_moving_on(service, clock):
    guide = STORE.guides["social_security_card"]
    third = next(s for s in guide.steps if guide.main_number(s.id) == 3)
    walk(service, "break", guide, third.id)
    clock.advance(IDLE_RESUME + timedelta(minutes=1))
    turn = service.step("break", text="下一步")
    assert turn is not None and turn.event is Event.RESUME_OFFERED
    assert "上次做到第 3 步" in texts(turn)
    assert service.active("break").step_id == third.id
    # Within the break nothing is re-offered.
    resumed = service.step("break", choice=1)
    assert resumed is not None and resumed.event is Event.RESUMED
    moved = service.step("break", command=Command.NEXT)
    assert moved is not None and moved.event in (Event.STEP, Event.REPROMPT)


def test_start_guide_without_naming_one_offers_the_unfinished_guide(service, clock):
    guide = STORE.guides["unemployment_claim"]
    second = next(s for s in guide.steps if guide.main_number(s.id) == 2)
    walk(service, "menu", guide, second.id)
    service.step("menu", command=Command.STOP)
    clock.advance(timedelta(hours=3))
    turn = service.offer_resume("menu", care_mode=False)
    assert turn is not None and turn.guide.key == "unemployment_claim"
    assert "上次做到第 2 步，继续吗？" in texts(turn)
    # Nothing done yet in another conversation: nothing to offer.
    service.start("fresh", "unemployment_claim", care_mode=False)
    assert service.offer_resume("fresh", care_mode=False) is None


def test_a_second_guide_does_not_lose_the_first(service, clock):
    walk(service, "two", STORE.guides["pension_certification"], "open_cert")
    service.start("two", "contribution_record", care_mode=False)
    assert service.active("two").guide_key == "contribution_record"
    clock.advance(timedelta(days=2))
    back = service.start("two", "pension_certification", care_mode=False)
    assert back.event is Event.RESUME_OFFERED


def test_conversations_are_separate(service):
    walk(service, "alice", STORE.guides["pension_certification"], "open_cert")
    service.start("bob", "pension_certification", care_mode=False)
    assert service.active("alice").step_id == "open_cert"
    assert service.active("bob").step_id == "open_search"


def test_words_and_voice_recognition_replies(service):
    guide = STORE.guides["pension_certification"]
    walk(service, "voice", guide, "open_miniapp")
    # WeChat's voice recognition: "一。" is the digit one; "我找到了" is answer 1 in words.
    turn = service.step("voice", text="我找到了。")
    assert turn is not None and service.active("voice").step_id == "open_cert"
    turn = service.step("voice", text="二。")
    assert turn is not None and service.active("voice").step_id == "help_cert"
    assert "小提示" in texts(turn)
    # The general assistant's reading is used when the words alone are unclear.
    turn = service.step("voice", text="然后我该干嘛", command=Command.NEXT)
    assert turn is not None and service.active("voice").step_id == "allow_login"
    unclear = service.step("voice", text="今天天气怎么样")
    assert unclear is not None and unclear.event is Event.NOT_UNDERSTOOD
    assert "没听明白" in texts(unclear)


def test_care_mode_wording(service):
    guide = STORE.guides["pension_certification"]
    turn = service.start("care", guide.key, care_mode=True)
    intro, step = turn.reply.texts
    assert intro.startswith("我们一起办“养老金领取资格认证”。")
    assert step.startswith(f"第 1 步，共 {guide.main_count} 步。")
    assert guide.first_step.care_text in step
    # Every choice numbered on its own line, and how to get a person at the end.
    assert "请回复数字：\n1 下一步\n2 再说一遍\n3 上一步\n4 不办了\n5 转人工" in step
    assert step.endswith(CLOSING)
    for _ in range(3):
        turn = service.step("care", command=Command.NEXT)
    # A check question is a message of its own in care mode.
    instruction, question = turn.reply.texts
    assert "国家社会保险公共服务平台" in instruction and "1 下一步" not in instruction
    assert question.startswith("找到了吗？\n请回复数字：\n1 找到了\n2 没找到")
    assert question.endswith(CLOSING)


def test_care_mode_can_change_mid_guide(service):
    service.start("switch", "contribution_record", care_mode=False)
    turn = service.step("switch", command=Command.REPEAT, care_mode=True)
    assert turn is not None and turn.reply.session.care_mode
    assert texts(turn).endswith(CLOSING)


def test_handoff_pauses_and_a_paused_guide_is_offered_again(service):
    walk(service, "human", STORE.guides["employment_code"], STORE.guides[
        "employment_code"].steps[1].id)
    turn = service.step("human", text="转人工")
    assert turn is not None and turn.event is Event.HANDOFF
    assert service.active("human") is None
    # Asking for a person again is the general assistant's business, not the guide's.
    assert service.step("human", command=Command.HANDOFF) is None
    offer = service.step("human", command=Command.NEXT)
    assert offer is not None and offer.event is Event.RESUME_OFFERED


def test_redis_down_is_reported(clock):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    service = GuideService(STORE, SessionStore(dead), clock=clock)
    with pytest.raises(GuideStorageError):
        service.start("x", "pension_certification", care_mode=False)
