"""The guide conversation, driven like a resident would, for every shipped guide.

Between turns the session is stored as JSON and read back, as the edges do with
Redis or a Rasa slot.
"""

from __future__ import annotations

import json
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from huimin.guides import (
    END,
    Command,
    Event,
    Guide,
    GuideSession,
    Reply,
    answer,
    care_mode_for,
    go_back,
    handle,
    human_handoff,
    interpret,
    load_guides,
    next_step,
    repeat,
    start,
    stop,
)

GUIDES = load_guides(Path(__file__).resolve().parent.parent / "guides")
KEYS = sorted(GUIDES)
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CLOSING = "要人帮忙：回复“转人工”，或打 12333。"


class Resident:
    """A resident chatting with the guide; the state lives only as a JSON string."""

    def __init__(self, guide: Guide, care: bool = False, now: datetime = T0) -> None:
        self.guide = guide
        self.care = care
        self.now = now
        self.stored: str | None = None
        self.last: Reply | None = None

    @property
    def session(self) -> GuideSession:
        assert self.stored is not None
        return GuideSession.from_dict(json.loads(self.stored))

    def _keep(self, reply: Reply) -> Reply:
        self.stored = json.dumps(reply.session.to_dict())
        json.dumps(reply.to_dict())  # the whole reply is plain data too
        self.last = reply
        return reply

    def start(self) -> Reply:
        previous = self.session if self.stored else None
        return self._keep(start(self.guide, previous=previous, care_mode=self.care, now=self.now))

    def say(self, text: str) -> Reply:
        return self._keep(handle(self.session, self.guide, text, now=self.now))

    @property
    def step_id(self) -> str:
        return self.session.step_id


def _routes(guide: Guide) -> dict[str, list[str]]:
    """Shortest list of replies from step 1 to every step (digits only)."""
    first = guide.first_step.id
    paths: dict[str, list[str]] = {first: []}
    todo = deque([first])
    while todo:
        step = guide.step(todo.popleft())
        if step.check:
            moves = [(str(i), o.goto) for i, o in enumerate(step.check.options, 1)]
        else:
            moves = [("1", guide.next_of(step))]
        for reply, target in moves:
            if target != END and target not in paths:
                paths[target] = [*paths[step.id], reply]
                todo.append(target)
    return paths


def _walk_to(guide: Guide, step_id: str, care: bool = False) -> Resident:
    resident = Resident(guide, care)
    resident.start()
    for reply in _routes(guide)[step_id]:
        resident.say(reply)
    assert resident.step_id == step_id
    return resident


# ---- end-to-end walks for every guide ---------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_start_names_the_guide_and_what_to_prepare_then_step_one(key: str) -> None:
    guide = GUIDES[key]
    reply = Resident(guide).start()
    assert reply.event is Event.STARTED
    first, *rest = reply.texts
    assert guide.title in first.splitlines()[0]
    for item in guide.prepare:
        assert item in first
    assert guide.first_step.text not in first
    assert rest and guide.first_step.text in rest[0]
    assert rest[0].startswith(f"第 1 步（共 {guide.main_count} 步）")
    assert reply.session.step_id == guide.first_step.id
    assert reply.session.active and not reply.session.finished


@pytest.mark.parametrize("key", KEYS)
def test_walk_the_main_path_with_repeat_and_back_at_every_step(key: str) -> None:
    guide = GUIDES[key]
    resident = Resident(guide)
    resident.start()
    seen: list[int] = []
    for _ in range(len(guide.steps) + 1):
        session = resident.session
        step = guide.step(session.step_id)
        shown = resident.last.messages[-1]  # type: ignore[union-attr]
        number = guide.main_number(step.id)
        assert number is not None, "answer 1 / 下一步 stays on the main path"
        seen.append(number)
        assert step.text in shown.text
        assert f"第 {number} 步" in shown.text
        labels = [o.label for o in shown.options]
        if step.check:
            assert step.check.question in shown.text
            assert labels[: len(step.check.options)] == [o.label for o in step.check.options]
            assert labels[len(step.check.options) :] == ["再说一遍", "上一步", "不办了", "转人工"]
        else:
            assert labels == ["下一步", "再说一遍", "上一步", "不办了", "转人工"]
        assert [o.number for o in shown.options] == list(range(1, len(labels) + 1))

        again = resident.say("再说一遍")
        assert again.event is Event.STEP
        assert again.messages[-1] == shown
        assert resident.session == session

        if number > 1:
            back = resident.say("上一步")
            assert back.event is Event.STEP
            assert resident.step_id == session.history[-1]
            assert resident.session.history == session.history[:-1]
            forward = "1"  # the step before is on the main path: 1 is 下一步 or the main answer
            resident.say(forward)
            assert resident.step_id == session.step_id

        reply = resident.say("1" if step.check else "下一步")
        if reply.event is Event.FINISHED:
            break
        assert reply.event is Event.STEP
    assert seen == list(range(1, guide.main_count + 1))
    done = resident.session
    assert done.finished and not done.active
    assert guide.done is not None and guide.done in resident.last.texts[0]  # type: ignore[union-attr]
    assert resident.say("1").event is Event.INACTIVE


@pytest.mark.parametrize("key", KEYS)
def test_every_check_answer_goes_where_the_guide_says(key: str) -> None:
    guide = GUIDES[key]
    branches = 0
    for step in guide.steps:
        if not step.check:
            continue
        for number, option in enumerate(step.check.options, 1):
            resident = _walk_to(guide, step.id)
            reply = resident.say(str(number))
            branches += 1
            if option.goto == END:
                assert reply.event is Event.FINISHED
                assert resident.session.finished
                continue
            assert reply.event is Event.STEP
            assert resident.step_id == option.goto
            target = guide.step(option.goto)
            if target.help:
                assert reply.texts[-1].startswith("小提示")
                assert target.text in reply.texts[-1]
                # 上一步 from a help step returns to the question.
                assert resident.say("上一步").event is Event.STEP
                assert resident.step_id == step.id
                resident.say(str(number))
                # The help step then returns to the guide.
                after = resident.say("下一步")
                then = guide.next_of(target)
                if then == END:
                    assert after.event is Event.FINISHED
                    assert "先讲到这里" in after.texts[0]
                else:
                    assert after.event is Event.STEP
                    assert resident.step_id == then
    assert branches >= 4


@pytest.mark.parametrize("key", KEYS)
def test_stop_then_resume_within_seven_days(key: str) -> None:
    guide = GUIDES[key]
    middle = [s.id for s in guide.steps if not s.help][guide.main_count // 2]
    resident = _walk_to(guide, middle)
    number = guide.main_number(middle)

    stopped = resident.say("不办了")
    assert stopped.event is Event.STOPPED
    assert guide.title in stopped.texts[0]
    assert not resident.session.active
    assert resident.say("1").event is Event.INACTIVE

    resident.now = T0 + timedelta(days=6, hours=23)
    offer = resident.start()
    assert offer.event is Event.RESUME_OFFERED
    assert f"上次做到第 {number} 步，继续吗？" in offer.texts[0]
    options = offer.messages[0].options
    assert [(o.number, o.label) for o in options] == [(1, "继续"), (2, "重新开始")]
    assert "1 继续  2 重新开始" in offer.texts[0]

    assert resident.say("再说一遍").messages == offer.messages
    resumed = resident.say("1")
    assert resumed.event is Event.RESUMED
    assert resident.step_id == middle
    assert guide.step(middle).text in resumed.texts[-1]
    # History survives the pause: 上一步 still works.
    resident.say("上一步")
    assert guide.main_number(resident.step_id) == number - 1  # type: ignore[operator]


@pytest.mark.parametrize("key", KEYS)
def test_resume_offer_restart_starts_from_step_one(key: str) -> None:
    guide = GUIDES[key]
    resident = _walk_to(guide, [s.id for s in guide.steps if not s.help][2])
    resident.say("不办了")
    resident.now = T0 + timedelta(days=2)
    resident.start()
    restarted = resident.say("重新开始")
    assert restarted.event is Event.STARTED
    assert resident.step_id == guide.first_step.id
    assert resident.session.history == ()
    assert resident.session.started_at == T0 + timedelta(days=2)


@pytest.mark.parametrize("key", KEYS)
def test_after_seven_days_the_guide_starts_fresh(key: str) -> None:
    guide = GUIDES[key]
    resident = _walk_to(guide, [s.id for s in guide.steps if not s.help][3])
    resident.say("不办了")
    resident.now = T0 + timedelta(days=7, minutes=1)
    fresh = resident.start()
    assert fresh.event is Event.STARTED
    assert resident.step_id == guide.first_step.id
    assert "上次做到" not in "".join(fresh.texts)


def test_resume_offer_for_a_help_step_counts_its_main_step() -> None:
    guide = GUIDES["pension_certification"]
    resident = _walk_to(guide, "help_button")
    resident.say("转人工")
    resident.now = T0 + timedelta(hours=3)
    offer = resident.start()
    assert "上次做到第 7 步" in offer.texts[0]
    assert resident.say("继续").event is Event.RESUMED
    assert resident.step_id == "help_button"


def test_no_resume_offer_for_finished_other_or_untouched_sessions() -> None:
    guide = GUIDES["employment_code"]
    untouched = Resident(guide)
    untouched.start()
    assert untouched.start().event is Event.STARTED

    other = _walk_to(GUIDES["pension_certification"], "face")
    assert start(guide, previous=other.session, now=T0).event is Event.STARTED

    done = _walk_to(guide, "show_code")
    done.say("下一步")
    assert done.session.finished
    assert done.start().event is Event.STARTED


def test_handoff_pauses_and_tells_the_hotline() -> None:
    guide = GUIDES["social_security_card"]
    resident = _walk_to(guide, "open_card")
    reply = resident.say("5")
    assert reply.event is Event.HANDOFF
    assert "人工" in reply.texts[0] and "12333" in reply.texts[0]
    assert resident.session.paused and resident.step_id == "open_card"
    assert human_handoff(resident.session, guide, T0).event is Event.INACTIVE


def test_function_api_matches_typed_commands() -> None:
    guide = GUIDES["contribution_record"]
    session = start(guide, now=T0).session
    session = next_step(session, guide, T0).session
    assert session.step_id == "open_wallet"
    assert repeat(session, guide, T0).session == session
    assert next_step(session, guide, T0).event is Event.REPROMPT  # a question is waiting
    session = answer(session, guide, 2, T0).session
    assert session.step_id == "help_wallet"
    session = go_back(session, guide, T0).session
    assert session.step_id == "open_wallet"
    session = answer(session, guide, "看到了", T0).session
    assert session.step_id == "open_card"
    assert stop(session, guide, T0).event is Event.STOPPED


def test_back_at_the_first_step_says_so() -> None:
    guide = GUIDES["retirement_application"]
    resident = Resident(guide)
    resident.start()
    reply = resident.say("上一步")
    assert reply.event is Event.STEP
    assert reply.texts[0].startswith("已经是第一步了。")
    assert resident.step_id == guide.first_step.id


def test_next_on_a_question_asks_for_an_answer() -> None:
    guide = GUIDES["pension_certification"]
    resident = _walk_to(guide, "open_cert")
    reply = resident.say("下一步")
    assert reply.event is Event.REPROMPT
    assert reply.texts[0].startswith("请先回答这个问题。")
    assert resident.step_id == "open_cert"


# ---- understanding replies ---------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["1", "１", "一", "①", "幺", "选1", "1。", " 1 ", "第一个", "回复1", "一。"]
)
def test_first_answer_in_every_digit_form(text: str) -> None:
    guide = GUIDES["pension_certification"]
    resident = _walk_to(guide, "start_button")
    resident.say(text)
    assert resident.step_id == "allow_camera"


@pytest.mark.parametrize("text", ["2", "２", "二", "两", "②", "选2", "第二个"])
def test_second_answer_in_every_digit_form(text: str) -> None:
    guide = GUIDES["pension_certification"]
    resident = _walk_to(guide, "start_button")
    resident.say(text)
    assert resident.step_id == "help_button"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("看到了", "allow_camera"),
        ("我看到了", "allow_camera"),
        ("有", "allow_camera"),
        ("没看到", "help_button"),
        ("我没看到啊", "help_button"),
        ("找不到", "help_button"),
    ],
)
def test_answers_in_words(text: str, expected: str) -> None:
    resident = _walk_to(GUIDES["pension_certification"], "start_button")
    resident.say(text)
    assert resident.step_id == expected


@pytest.mark.parametrize(
    ("text", "event"),
    [("3", Event.STEP), ("三", Event.STEP), ("4", Event.STEP), ("５", Event.STOPPED),
     ("六", Event.HANDOFF), ("帮我转人工", Event.HANDOFF), ("算了", Event.STOPPED)],
)  # fmt: skip
def test_commands_continue_the_numbering_on_a_question(text: str, event: Event) -> None:
    guide = GUIDES["pension_certification"]
    resident = _walk_to(guide, "start_button")
    before = resident.session
    reply = resident.say(text)
    assert reply.event is event
    if text in {"4"}:
        assert resident.step_id == before.history[-1]
    elif event is Event.STEP:
        assert resident.step_id == "start_button"


@pytest.mark.parametrize(
    ("text", "step"),
    [("1", "tap_search"), ("１", "tap_search"), ("好了", "tap_search"), ("下一步", "tap_search"),
     ("2", "type_words"), ("再说一遍", "type_words"), ("3", "open_search"),
     ("三", "open_search"), ("返回", "open_search")],
)  # fmt: skip
def test_numbered_commands_on_a_plain_step(text: str, step: str) -> None:
    resident = _walk_to(GUIDES["pension_certification"], "type_words")
    resident.say(text)
    assert resident.step_id == step


@pytest.mark.parametrize("text", ["9", "０", "养老金什么时候发", "", "？？"])
def test_unclear_replies_keep_the_step_and_ask_for_a_number(text: str) -> None:
    guide = GUIDES["pension_certification"]
    resident = _walk_to(guide, "start_button")
    assert interpret(resident.session, guide, text) is None
    reply = resident.say(text)
    assert reply.event is Event.NOT_UNDERSTOOD
    assert reply.texts[0].startswith("没听明白")
    assert resident.step_id == "start_button"


def test_interpret_has_no_side_effects() -> None:
    guide = GUIDES["pension_certification"]
    resident = _walk_to(guide, "start_button")
    intent = interpret(resident.session, guide, "２")
    assert intent is not None
    assert (intent.command, intent.option) == (Command.ANSWER, 1)
    assert resident.step_id == "start_button"


def test_resume_offer_understands_digit_forms_and_words() -> None:
    guide = GUIDES["unemployment_claim"]
    for text, event in [("１", Event.RESUMED), ("继续", Event.RESUMED), ("二", Event.STARTED),
                        ("从头开始", Event.STARTED), ("好的", Event.NOT_UNDERSTOOD),
                        ("不办了", Event.STOPPED)]:  # fmt: skip
        resident = _walk_to(guide, "fill_bank")
        resident.say("不办了")
        resident.start()
        assert resident.say(text).event is event, text


# ---- care mode -----------------------------------------------------------------------


def test_care_mode_wording_differs_from_normal() -> None:
    guide = GUIDES["pension_certification"]
    step = guide.step("open_miniapp")
    assert step.care_text and step.check and step.check.care_question
    normal = _walk_to(guide, "open_miniapp").last
    care = _walk_to(guide, "open_miniapp", care=True).last
    assert normal is not None and care is not None

    # Normal: one message with the instruction, the question and compact numbered choices.
    assert len(normal.messages) == 1
    text = normal.texts[0]
    assert step.text in text and step.check.question in text
    assert "1 找到了  2 没找到" in text
    assert CLOSING not in text

    # Care: simpler words, the question in its own message, one choice per line,
    # and a closing line on how to get a person.
    assert len(care.messages) == 2
    instruction, question = care.texts
    assert step.care_text in instruction and step.text not in instruction
    assert care.messages[0].options == ()
    assert step.check.care_question in question and step.check.question not in question
    assert "\n1 找到了\n2 没找到\n3 再说一遍\n4 上一步\n5 不办了\n6 转人工\n" in question
    assert question.endswith(CLOSING)
    assert care.to_dict()["care_mode"] is True and normal.to_dict()["care_mode"] is False


def test_care_mode_start_and_every_reply_end_with_the_closing_line() -> None:
    guide = GUIDES["employment_code"]
    resident = Resident(guide, care=True)
    reply = resident.start()
    assert reply.texts[0].startswith(f"我们一起办“{guide.title}”。")
    assert guide.for_whom not in reply.texts[0]
    assert reply.texts[-1].endswith(CLOSING)
    for text in ["1", "再说一遍", "上一步", "9", "1", "1", "不办了"]:
        reply = resident.say(text)
        assert reply.texts[-1].endswith(CLOSING), text
        assert all(not t.endswith(CLOSING) for t in reply.texts[:-1])
    resident.now = T0 + timedelta(days=1)
    assert resident.start().texts[-1].endswith(CLOSING)
    assert CLOSING not in resident.say("转人工").texts[-1]


def test_care_mode_one_instruction_per_message_for_every_guide() -> None:
    for guide in GUIDES.values():
        for step in guide.steps:
            resident = _walk_to(guide, step.id, care=True)
            messages = resident.say("再说一遍").messages
            assert (step.care_text or step.text) in messages[0].text
            if step.check:
                assert len(messages) == 2
                assert all(o.number for o in messages[1].options)
            else:
                assert len(messages) == 1


def test_care_mode_finish_uses_short_closing() -> None:
    guide = GUIDES["contribution_record"]
    resident = _walk_to(guide, "read_months", care=True)
    reply = resident.say("1")
    assert reply.event is Event.FINISHED
    assert reply.texts[0].startswith(guide.done)  # type: ignore[arg-type]
    assert reply.texts[0].endswith(CLOSING)


@pytest.mark.parametrize(
    ("age", "choice", "assisted", "expected"),
    [
        (59, None, False, False),
        (60, None, False, True),
        (82, None, False, True),
        (None, None, False, False),
        (35, True, False, True),
        (70, False, False, False),
        (35, False, True, True),
        (None, None, True, True),
    ],
)
def test_care_mode_for(
    age: int | None, choice: bool | None, assisted: bool, expected: bool
) -> None:
    assert care_mode_for(age, choice, assisted) is expected


# ---- state -----------------------------------------------------------------------


def test_session_round_trips_through_json() -> None:
    guide = GUIDES["retirement_application"]
    resident = _walk_to(guide, "help_years", care=True)
    session = resident.session
    data = json.loads(json.dumps(session.to_dict()))
    assert data["guide_key"] == "retirement_application"
    assert data["step_id"] == "help_years"
    assert data["care_mode"] is True
    assert isinstance(data["updated_at"], str)
    assert GuideSession.from_dict(data) == session


def test_session_requires_timezone_aware_times() -> None:
    guide = GUIDES["retirement_application"]
    with pytest.raises(ValueError):
        start(guide, now=datetime(2025, 1, 1, 9, 0))
    data = start(guide, now=T0).session.to_dict()
    data["updated_at"] = "2025-01-01T09:00:00"
    with pytest.raises(ValueError):
        GuideSession.from_dict(data)


def test_session_for_a_removed_step_starts_over() -> None:
    guide = GUIDES["social_security_card"]
    session = start(guide, now=T0).session.model_copy(update={"step_id": "removed_step"})
    reply = handle(session, guide, "1", T0)
    assert reply.event is Event.STARTED
    assert reply.texts[0].startswith("这个指南更新过了")
    assert reply.session.step_id == guide.first_step.id
    assert start(guide, previous=session, now=T0).event is Event.STARTED


def test_session_for_another_guide_is_a_programming_error() -> None:
    session = start(GUIDES["social_security_card"], now=T0).session
    with pytest.raises(ValueError, match="social_security_card"):
        handle(session, GUIDES["employment_code"], "1", T0)


def test_long_help_loops_keep_the_stored_history_bounded() -> None:
    guide = GUIDES["pension_certification"]
    resident = _walk_to(guide, "start_button")
    for _ in range(40):
        resident.say("2")
        resident.say("1")
    assert resident.step_id == "start_button"
    assert len(resident.session.history) <= 50
