"""Short answers for a phone screen, composed only from the policy catalogue.

Pure functions: the Rasa actions (and any other edge) pass in a policy, an aspect and today's
date and get back a `Reply` — text plus numbered choices. Every fact in a reply is the
catalogue's own text; this module adds only headings, connecting words and menus.

Choices carry Rasa intent payloads (`/ask_policy{"policy":"startup_subsidy"}`), so they work in
any channel: the mini-program shows buttons, WeChat shows "回复 1：…" lines and maps a digit
back to the payload.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from huimin.catalogue import (
    ASPECT_LABELS,
    ASPECTS,
    Catalogue,
    Policy,
    SearchHit,
    aspect_of,
)
from huimin.catalogue.conversation import asks_of_another
from huimin.catalogue.dialect import plain as read_plain
from huimin.catalogue.referrals import Match, ReferralTable
from huimin.catalogue.resolver import Resolution, resolve, with_named
from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import ASPECT_FORMS, also_asked

# The numbered menu under an overview (the "1 条件 2 标准 3 材料 4 怎么办").
OVERVIEW_ASPECTS: tuple[str, ...] = ("eligibility", "amount", "materials", "process")
# Offered after a focused answer: the same order, the one just shown left out.
FOLLOW_UP_ASPECTS: tuple[str, ...] = ("eligibility", "amount", "materials", "process", "where")
MAX_CHOICES = 4
# How a menu of policies starts (the ops review counts menus by it).
MENU_INTRO = "您问的是哪一项？"
# Lines of each policy's answer when two are shown side by side.
SIDE_BY_SIDE_LINES = 4

# Intents we can offer as "did you mean…?" when the NLU is unsure, with plain labels.
# Small talk is never offered: a citizen does not need a button to say hello.
INTENT_LABELS: dict[str, str] = {
    "ask_policy": "查政策",
    "check_benefits": "查我能领哪些补贴",
    "start_guide": "一步步教我办事",
    "check_application": "查我的办件进度",
    "show_employment_code": "打开我的就业码",
    "ask_office": "查办事大厅地址",
    "human_handoff": "转人工",
    "feedback_unhelpful": "没帮到我",
}
# Shown when nothing better is known.
MAIN_MENU: tuple[str, ...] = ("ask_policy", "check_benefits", "start_guide", "human_handoff")
# Well-known policies offered when a citizen asks about "a policy" without naming one.
POPULAR_POLICIES: tuple[str, ...] = (
    "unemployment_insurance",
    "flexible_employment_subsidy",
    "startup_subsidy",
    "elderly_allowance",
)


@dataclass(frozen=True)
class Choice:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()

    def buttons(self) -> list[dict[str, str]]:
        """Rasa's button format."""
        return [{"title": c.title, "payload": c.payload} for c in self.choices]


def payload(intent: str, **entities: str | None) -> str:
    """A Rasa intent payload, e.g. `/ask_policy{"policy":"startup_subsidy"}`."""
    given = {name: value for name, value in entities.items() if value}
    if not given:
        return f"/{intent}"
    return f"/{intent}" + json.dumps(given, ensure_ascii=False, separators=(",", ":"))


def policy_choice(policy: Policy, aspect: str | None = None) -> Choice:
    return Choice(policy.title, payload("ask_policy", policy=policy.key, aspect=aspect))


def aspect_choice(policy: Policy, aspect: str) -> Choice:
    return Choice(ASPECT_LABELS[aspect], payload("ask_policy", policy=policy.key, aspect=aspect))


def intent_choice(intent: str) -> Choice:
    return Choice(INTENT_LABELS[intent], payload(intent))


def validity_note(policy: Policy, today: date) -> str | None:
    """A warning when the policy is not in force today (dates from the catalogue)."""
    if policy.effective_to is not None and today > policy.effective_to:
        return (
            f"注意：这项政策已于{_day(policy.effective_to)}停止执行，"
            f"以下仅供参考，请打 {policy.hotline} 确认。"
        )
    if today < policy.effective_from:
        return f"注意：这项政策从{_day(policy.effective_from)}起执行。"
    return None


def overview(policy: Policy, today: date) -> Reply:
    """Title, the catalogue summary, and the numbered aspects to choose from."""
    lines = [f"【{policy.title}】", policy.summary]
    note = validity_note(policy, today)
    if note:
        lines.append(note)
    lines.append("想了解哪方面？")
    return Reply("\n".join(lines), (*(aspect_choice(policy, a) for a in OVERVIEW_ASPECTS),
                                    intent_choice("feedback_unhelpful")))


def aspect_answer(
    policy: Policy, aspect: str, today: date, also: str | None = None
) -> Reply:
    """The catalogue's text for one aspect, with the other aspects as follow-ups. `also`: a
    second aspect the same question asks ("要带啥，去哪办"), answered after the first under
    its label, so the citizen need not ask again."""
    if aspect not in ASPECTS:
        raise ValueError(f"unknown aspect {aspect!r}; expected one of {', '.join(ASPECTS)}")
    lines = [f"【{policy.title}】{ASPECT_LABELS[aspect]}"]
    note = validity_note(policy, today)
    if note:
        lines.append(note)
    lines.append(policy.aspect_text(aspect))
    shown = {aspect}
    if also in ASPECTS and also != aspect:
        lines += [f"{ASPECT_LABELS[also]}：", policy.aspect_text(also)]
        shown.add(also)
    if shown & {"process", "where"}:
        lines.append(f"咨询电话：{policy.hotline}")
    lines.append("还想了解：")
    follow_ups = [a for a in FOLLOW_UP_ASPECTS if a not in shown][:MAX_CHOICES]
    return Reply("\n".join(lines), (*(aspect_choice(policy, a) for a in follow_ups),
                                    intent_choice("feedback_unhelpful")))


def answer(
    policy: Policy, aspect: str | None, today: date, also: str | None = None
) -> Reply:
    """A focused answer when the aspect is known (with `also`, a second one asked in the same
    question), otherwise a short overview."""
    if aspect in ASPECTS:
        return aspect_answer(policy, aspect, today, also)
    return overview(policy, today)


def choose_policy(
    policies: Sequence[Policy], aspect: str | None = None, intro: str = MENU_INTRO
) -> Reply:
    """Candidates as numbered choices (best first), plus "none of these"."""
    choices = [policy_choice(p, aspect) for p in policies[:MAX_CHOICES]]
    choices.append(Choice("都不是", payload("deny")))
    return Reply(intro, tuple(choices))


def which_policy(catalogue: Catalogue, searched: bool = False) -> Reply:
    """No policy named and nothing found: ask for the name, offering well-known ones and a
    person. `searched`: the citizen's words were searched and matched nothing (this is often
    a question for another department, so say so plainly)."""
    popular = [p for p in (catalogue.get(k) for k in POPULAR_POLICIES) if p is not None]
    opening = "没找到和这个有关的人社政策。" if searched else ""
    return Reply(
        opening + "您想问哪项政策？可以直接说名字，比如“失业金怎么领”。常问的有：",
        (*(policy_choice(p) for p in popular[: MAX_CHOICES - 1]), intent_choice("human_handoff")),
    )


@dataclass(frozen=True)
class Outcome:
    """The reply to a policy question, the policy now being talked about (if one), and what
    was decided: answer, ask (a menu), refer (another department) or none."""

    reply: Reply
    policy: Policy | None = None
    aspect: str | None = None
    decision: str = "answer"
    referral: str | None = None  # the department key when referred


# Words that say nothing about *which* policy: a message made only of these (and aspect words)
# is a follow-up about the policy already being discussed ("那需要什么材料").
_GENERIC_WORDS = frozenset(
    {"补贴", "补助", "政策", "待遇", "申请", "办理", "需要", "介绍", "了解", "这个", "那个"}
    | {"这项", "那项", "可以", "能不能", "还有", "不能", "我能", "是不是", "一下", "的话"}
)
_FILLER_CHARS = frozenset("那这要去哪能领办钱呢啊呀吧还得人在个项我他她你的呢嘛噻哦")


def named_policies(catalogue: Catalogue, values: Iterable[str], text: str) -> list[Policy]:
    """Policies the citizen named: the NLU's entity values (catalogue keys after synonym
    mapping, or raw names), else titles and aliases found verbatim in the text."""
    found: list[Policy] = []
    for value in values:
        policy = catalogue.get(value) or catalogue.find(value)
        if policy is not None and policy not in found:
            found.append(policy)
    if not found and text and not is_payload(text):
        found = catalogue.mentions(text)
    return found


def is_payload(text: str) -> bool:
    """A button payload such as `/ask_policy{...}` rather than words a citizen typed."""
    return text.lstrip().startswith("/")


def is_follow_up(catalogue: Catalogue, text: str, about: Policy | None = None) -> bool:
    """True when the text names no topic of its own, only an aspect, policy names already
    resolved and filler words ("那创业补贴呢", "要带啥"). `about`: the policy the text was
    resolved to, whose names' words are no topic of their own either ("那场地租金补贴呢" is
    创业场地租金补贴 said loosely)."""
    names = [n for p in catalogue for n in p.names]
    said: list[str] = []
    for name in sorted(names, key=len, reverse=True):
        if name in text:
            said.append(name)
            text = text.replace(name, " ")
    rest = read_plain(text)  # "要带些啥子": regional words read as plain Mandarin
    for word in sorted(ASPECT_FORMS, key=len, reverse=True):
        rest = rest.replace(word, " ")
    # Words of a name the citizen said in part are no topic of their own: "那培训期间的生活费补贴
    # 呢" names 生活费补贴, and 培训期间 is the rest of its title (培训期间生活费补贴).
    spoken = [full for p in catalogue if set(p.names) & set(said) for full in p.names]
    spoken += list(about.names) if about is not None else []
    content = [
        w for w in catalogue.index().tokenizer.words(rest)
        if len(w) > 1 and w not in _GENERIC_WORDS and not set(w) <= _FILLER_CHARS
        and not any(w in full for full in spoken)
    ]  # fmt: skip
    return not content


# Endings that ask the same thing again of something else ("…的补贴呢" after "在哪办").
_SAME_QUESTION_ENDINGS = ("呢",)


def asks_the_same(text: str) -> bool:
    """The turn ends in 呢 (punctuation aside): it asks what was just asked, of what it names."""
    return normalise(text).endswith(_SAME_QUESTION_ENDINGS)  # punctuation is dropped


def asks_about(catalogue: Catalogue, text: str, previous: str | None) -> bool:
    """A follow-up asking one aspect of the policy being discussed ("那要带啥")."""
    if previous not in catalogue or not text or is_payload(text):
        return False
    return aspect_of(text) is not None and is_follow_up(catalogue, text)


def side_by_side(policies: Sequence[Policy], aspect: str | None, today: date) -> Reply:
    """Two policies named in one question: each one's answer, briefly, one after the other."""
    parts = []
    for policy in policies:
        if aspect in ASPECTS:
            body = policy.aspect_text(aspect).splitlines()[:SIDE_BY_SIDE_LINES]
            head = f"【{policy.title}】{ASPECT_LABELS[aspect]}"
        else:
            body, head = [policy.summary], f"【{policy.title}】"
        note = validity_note(policy, today)
        parts.append("\n".join([head, *([note] if note else []), *body]))
    return Reply("\n\n".join(parts), (intent_choice("feedback_unhelpful"),))


def not_found() -> Reply:
    """Nothing in the catalogue or the referrals fits: say so, and where else to ask."""
    return Reply(
        "没找到和这个有关的人社政策。您可以直接说政策名字，比如“失业金怎么领”；"
        "其他部门的事可以打 12345 政务服务热线。",
        (intent_choice("check_benefits"), intent_choice("human_handoff")),
    )


def refer(match: Match) -> Reply:
    return Reply(match.reply)



def reply_to_question(
    catalogue: Catalogue,
    today: date,
    text: str,
    policy_values: Sequence[str] = (),
    aspect_values: Sequence[str] = (),
    previous: str | None = None,
    previous_aspect: str | None = None,
    referrals: ReferralTable | None = None,
    resolution: Resolution | None = None,
) -> Outcome:
    """Answer an `ask_policy` message.

    `policy_values` and `aspect_values` are the NLU's entity values, `previous` and
    `previous_aspect` what was discussed before. The resolver (huimin.catalogue.resolver)
    decides answer / ask / refer; a follow-up with only an aspect keeps the previous policy,
    and "那创业补贴呢" keeps the previous aspect for the newly named policy.

    The aspect of typed text is its longest aspect word ("能领多少钱" is the amount, though the
    NLU may tag "能领", an eligibility word); entity values decide only for button payloads.
    Entity values that are not catalogue names or aspects (stray spans) are ignored.
    `resolution`: the resolution of the typed `text` alone (`resolve(catalogue, referrals,
    text)`) when the caller already has it, so one message is resolved once.
    """
    typed = "" if is_payload(text) else text
    names = tuple(n for p in catalogue for n in p.names)
    aspect = (aspect_of(typed, ignore=names) if typed else None) or next(
        (a for a in aspect_values if a in ASPECTS), None
    )
    # "要带啥，去哪办": the second aspect asked, answered with the first.
    also = also_asked(typed, ignore=names) if typed else None
    entity_named = [
        p for p in (catalogue.get(v) or catalogue.find(v) for v in policy_values) if p is not None
    ]
    earlier = catalogue.get(previous) if previous else None
    follow_up = bool(typed) and is_follow_up(catalogue, typed)
    if aspect is None and follow_up and previous_aspect in ASPECTS:
        aspect = previous_aspect
    if not typed and entity_named:
        return Outcome(answer(entity_named[0], aspect, today), entity_named[0], aspect)
    if resolution is not None and typed:
        found = with_named(resolution, entity_named)
    else:
        found = resolve(catalogue, referrals, typed, entity_named)
    # Another department's matter is no follow-up, however few its words ("我身份证过期了
    # 去哪里换" after 退休手续: 身份证 and 过期 are words of materials, not a topic).
    if (earlier is not None and aspect is not None and follow_up
            and not catalogue.mentions(typed) and found.decision != "refer"):
        return Outcome(answer(earlier, aspect, today, also), earlier, aspect)
    if found.decision == "answer" and len(found.policies) == 1:
        policy = found.policies[0]
        if (aspect is None and earlier is not None and previous_aspect in ASPECTS
                and (is_follow_up(catalogue, typed, about=policy) or asks_the_same(typed))):
            # "那场地租金补贴呢" after the loan's amount: the same aspect of the policy it
            # names loosely, as "那创业补贴呢" (a verbatim name) keeps it; so does a new
            # policy told in words of its own ending in 呢 ("家里老人上门助餐的补贴呢").
            aspect = previous_aspect
        return Outcome(answer(policy, aspect, today, also), policy, aspect)
    if found.decision == "answer":
        return Outcome(side_by_side(found.policies, aspect, today), None, aspect)
    if found.decision == "ask":
        return Outcome(choose_policy(found.policies, aspect), None, aspect, decision="ask")
    if found.decision == "refer" and found.referral is not None:
        return Outcome(
            refer(found.referral), None, None, "refer", found.referral.department.key
        )
    if not typed:
        return Outcome(which_policy(catalogue), None, aspect, decision="none")
    if earlier is not None and aspect is None and asks_of_another(typed):
        # "那我媳妇呢她也被裁了" after 失业保险金's process: the same question of someone else.
        again = previous_aspect if previous_aspect in ASPECTS else None
        return Outcome(answer(earlier, again, today), earlier, again)
    return Outcome(not_found(), None, aspect, decision="none")


def candidates(catalogue: Catalogue, hits: Iterable[SearchHit]) -> list[Policy]:
    """The catalogue policies behind search hits, in rank order."""
    found = (catalogue.get(hit.key) for hit in hits)
    return [p for p in found if p is not None][:MAX_CHOICES]


def process_steps(policy: Policy, today: date, intro: str) -> Reply:
    """How to apply, from the catalogue, under an intro line (used while a step-by-step
    guide is not available)."""
    reply = aspect_answer(policy, "process", today)
    return Reply(f"{intro}\n{reply.text}", reply.choices)


def rephrase(intents: Sequence[str], policies: Sequence[Policy]) -> Reply:
    """First failure to understand: ask to rephrase, with numbered guesses.

    `intents` are the NLU's runner-up intents (best first), `policies` the policies the text
    named or the search found (best first). "转人工" is always the last choice.
    """
    choices = [Choice(f"了解{p.title}", payload("ask_policy", policy=p.key)) for p in policies]
    choices += [
        intent_choice(i) for i in intents if i in INTENT_LABELS and i != "human_handoff"
    ]  # fmt: skip
    if not choices:
        choices = [intent_choice(i) for i in MAIN_MENU if i != "human_handoff"]
    choices = _distinct(choices)[: MAX_CHOICES - 1] + [intent_choice("human_handoff")]
    return Reply("抱歉，我没太明白。您可以换个说法，或者选一项：", tuple(choices))


def _distinct(choices: list[Choice]) -> list[Choice]:
    seen: set[str] = set()
    out = []
    for choice in choices:
        if choice.payload not in seen:
            seen.add(choice.payload)
            out.append(choice)
    return out


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
