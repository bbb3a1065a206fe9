"""Citizen-facing wording of the guide conversation, normal and care mode (适老化).

Care mode: the simpler `care_text` wording, one instruction per message (a check
question is its own message), every option numbered on its own line, and a closing
line on how to reach a person.
"""

from __future__ import annotations

from dataclasses import replace

from huimin.guides.messages import Command, Message, Option
from huimin.guides.schema import Guide, Step
from huimin.platform.settings import Settings

HOTLINE = Settings.hotline
CLOSING_LINE = f"要人帮忙：回复“转人工”，或打 {HOTLINE}。"

COMMAND_LABELS: dict[Command, str] = {
    Command.NEXT: "下一步",
    Command.REPEAT: "再说一遍",
    Command.BACK: "上一步",
    Command.STOP: "不办了",
    Command.HANDOFF: "转人工",
}
_STEP_COMMANDS = (Command.NEXT, Command.REPEAT, Command.BACK, Command.STOP, Command.HANDOFF)
# On a check step the answers replace 下一步.
_CHECK_COMMANDS = (Command.REPEAT, Command.BACK, Command.STOP, Command.HANDOFF)

NOT_UNDERSTOOD = "没听明白。请回复数字，比如 1。"
ANSWER_FIRST = "请先回答这个问题。"
AT_FIRST_STEP = "已经是第一步了。"
RESUMING = "好，接着上次的做。"
GUIDE_CHANGED = "这个指南更新过了，我们从头开始。"


def menu(guide: Guide, step_id: str, awaiting_resume: bool) -> tuple[Option, ...]:
    """The numbered choices on screen; the same list resolves a digit reply."""
    if awaiting_resume:
        return (Option(1, "继续", Command.RESUME), Option(2, "重新开始", Command.RESTART))
    step = guide.step(step_id)
    items: list[tuple[str, Command]] = []
    if step.check:
        items += [(o.label, Command.ANSWER) for o in step.check.options]
        items += [(COMMAND_LABELS[c], c) for c in _CHECK_COMMANDS]
    else:
        items += [(COMMAND_LABELS[c], c) for c in _STEP_COMMANDS]
    return tuple(Option(i, label, command) for i, (label, command) in enumerate(items, 1))


def intro(guide: Guide, care: bool) -> Message:
    items = tuple(f"· {p}" for p in guide.prepare)
    if care:
        return Message(
            (f"我们一起办“{guide.title}”。", "一步一步来，别着急。", "先准备好：", *items)
        )
    return Message((f"【{guide.title}】", f"适合：{guide.for_whom}", "请先准备：", *items))


def step_messages(
    guide: Guide, step: Step, options: tuple[Option, ...], care: bool, lead: str | None = None
) -> list[Message]:
    number = guide.main_number(step.id)
    lines = [lead] if lead else []
    if care:
        header = f"第 {number} 步，共 {guide.main_count} 步。" if number else "别着急，这样做："
        lines += [header, step.care_text or step.text]
        if step.check:
            question = step.check.care_question or step.check.question
            return [
                Message(tuple(lines), image=step.image),
                Message((question,), options=options, one_per_line=True),
            ]
        return [Message(tuple(lines), options=options, image=step.image, one_per_line=True)]
    header = f"第 {number} 步（共 {guide.main_count} 步）" if number else "小提示"
    lines += [header, step.text]
    if step.check:
        lines.append(step.check.question)
    return [Message(tuple(lines), options=options, image=step.image)]


def resume_offer(
    guide: Guide, number: int, options: tuple[Option, ...], care: bool, lead: str | None = None
) -> Message:
    lines = ([lead] if lead else []) + [
        f"您上次在办“{guide.title}”。",
        f"上次做到第 {number} 步，继续吗？",
    ]
    return Message(tuple(lines), options=options, one_per_line=care)


def finished(guide: Guide, completed: bool, care: bool) -> Message:
    """`completed`: the main path was walked to the end (not left from a help step)."""
    if not completed:
        if care:
            return Message(("先讲到这里。",))
        return Message(("先讲到这里。", f"需要帮忙，回复“转人工”或打 {HOTLINE}。"))
    done = guide.done or "全部做完了！"
    if care:
        return Message((done, "辛苦了！"))
    return Message((done, "还有别的事，直接发给我就行。"))


def stopped(guide: Guide, care: bool) -> Message:
    if care:
        return Message(("好的，先不办了。", f"想接着办，就发“{guide.title}”。"))
    return Message(("好的，先不办了。", f"想接着办，再发“{guide.title}”，7 天内能接着上次做。"))


def handoff() -> Message:
    return Message(("好的，马上为您转人工客服，请稍等。", f"也可以打电话 {HOTLINE}。"))


def with_closing(messages: list[Message]) -> list[Message]:
    """Care mode: end the reply with how to get a person."""
    return [*messages[:-1], replace(messages[-1], footer=CLOSING_LINE)]
