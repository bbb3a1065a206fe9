"""Follow-ups: a later turn that asks one aspect and names no policy of its own is about the
policy being discussed ("办这个要去什么地方" after 失业保险金), and a policy question that the
NLU gave another intent is still answered as one. The rules live here, in the domain; the
actions of each intent (bot/actions/) only ask them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Final

from huimin.catalogue.answers import (
    Outcome,
    asks_the_same,
    is_payload,
    named_policies,
    reply_to_question,
)
from huimin.catalogue.catalogue import Catalogue
from huimin.catalogue.conversation import (
    WHAT_IF_WORDS,
    asks_if_own_case_qualifies,
    asks_if_qualifies,
    asks_of_another,
    asks_on_behalf,
    asks_what_else,
    context_aspect,
)
from huimin.catalogue.conversation import WORDS as _WORDS
from huimin.catalogue.misheard import GENERIC_PARTS
from huimin.catalogue.referrals import ReferralTable
from huimin.catalogue.resolver import (
    Resolution,
    name_words_said,
    resolve,
    resolve_clear,
    says_a_name_word,
    switched_to,
)
from huimin.catalogue.retrieval import THRESHOLDS, clear
from huimin.catalogue.schema import Policy
from huimin.catalogue.situations import load_situations, said
from huimin.catalogue.vocabulary import ASPECT_FORMS, asks_something, aspect_of

# Words that make a message about the citizen's own application ("审核过了没", "到哪一步了"):
# check_application keeps those even right after a policy answer.
APPLICATION_STATUS_WORDS: tuple[str, ...] = tuple(_WORDS.application_status)
# Words that ask which benefits there are ("我能领哪些补贴", "能领点啥"): check_benefits keeps
# those, though "能领" is also an eligibility word.
WHICH_BENEFITS_WORDS: tuple[str, ...] = tuple(_WORDS.which_benefits)

# Words that open a new matter ("还有个事我想问…", "另外…"): after them the turn is not read as
# a follow-up about the previous answer's policy, but resolved on its own words (answered when
# clear, else a menu or "not found"): a new matter answered with the old policy is a wrong
# answer (issue 14).
TOPIC_SHIFT_WORDS: tuple[str, ...] = tuple(_WORDS.new_matter)


# Words of a citizen asking for a person (转人工, 找个人帮我弄): the hand-off stands.
PERSON_WORDS: tuple[str, ...] = tuple(_WORDS.person)
# Offices named to ask where one is (社保局在哪里): the office form asks the district.
OFFICE_WORDS: tuple[str, ...] = tuple(_WORDS.offices)


def asks_for_a_person(text: str) -> bool:
    """The message asks for a person: read by the NLU as a hand-off request, it is one. Without
    a person word, "打电话能挂失吗" after 社保卡 asks how the card is reported lost."""
    return any(word in text for word in PERSON_WORDS)


def names_an_office(text: str) -> bool:
    """The message names an office ("社保局在哪里"), so a where question asks for that
    office, not where to apply for the policy just answered ("去社区办还是去街道办")."""
    return any(word in text for word in OFFICE_WORDS)


def opens_a_new_matter(text: str) -> bool:
    return any(word in text for word in TOPIC_SHIFT_WORDS)


def asks_other_benefits(text: str, aspect: str | None) -> bool:
    """After an answer, the turn asks which other benefits the citizen has ("还有什么补贴我能
    领", "别的还有啥"): the benefits check's question, not the policy just answered again.
    One asking another aspect ("还有什么钱要交吗": the fee) stays a follow-up."""
    return aspect in (None, "eligibility", "amount") and asks_what_else(text)


def asks_benefits_check(
    cat: Catalogue,
    text: str,
    entity_policies: Sequence[str] = (),
    found: Resolution | None = None,
) -> bool:
    """A policy question that is really the benefits check's ("还有什么补贴我能领", "别的还有
    啥" after an answer): it names no policy and asks which other benefits there are. The
    ask_policy action hands it to the check rather than repeat the policy just answered.
    A question whose words settle one policy clearly is that policy's, though its story says
    还有补贴 ("听说职业培训是免费的还有补贴我这个岁数的还能不能参加"). `found`: the
    message's resolution when the caller has it."""
    if not text or is_payload(text) or named_policies(cat, entity_policies, text):
        return False
    names = tuple(n for p in cat for n in p.names)
    if not asks_other_benefits(text, aspect_of(text, ignore=names)):
        return False
    settled = resolve_clear(cat, None, text, found=found)
    return settled is None or settled.decision != "answer"


def asked_of_previous(
    cat: Catalogue,
    refs: ReferralTable | None,
    text: str,
    previous: str | None,
    entity_policies: Sequence[str] = (),
    found: Resolution | None = None,
) -> tuple[Policy, str] | None:
    """(previous policy, aspect) when `text` asks one aspect of the policy being discussed.

    Citizens wrap the aspect in words of their own ("我退伍好几年了这样的情况符合条件吗"), so a
    turn may carry content words and still be a follow-up. It is not one when it names a policy
    (verbatim, misheard or mistyped, or tagged by the NLU) other than the previous one, or
    another department's matter, or when retrieval finds another policy clearly and strongly
    (resolver.switched_to); a weak retrieval match does not switch: over the words around an
    aspect it guesses ("我家老人要怎么申请" after 居家养老服务补贴 finds 高龄津贴). An everyday
    situation told (`policies/_situations.yml`: "厂里拖了我三个月工资") settles a policy as a
    name does, so it switches.
    `found`: the message's resolution when the caller already has it (resolved once).
    """
    policy = cat.get(previous) if previous else None
    if policy is None or not text or is_payload(text) or opens_a_new_matter(text):
        return None
    names = tuple(n for p in cat for n in p.names)
    aspect = asks_if_qualifies(text) or aspect_of(text, ignore=names)
    if asks_other_benefits(text, aspect):
        return None
    if aspect in (None, "eligibility"):
        # "星期六能办不", "网上行不行": when and how, not whether the citizen qualifies;
        # "能托人办吗": how, someone else doing it.
        aspect = context_aspect(text) or asks_on_behalf(text) or aspect
    # "我这个情况行不行我是农村来的": whether the citizen's own case qualifies, told after.
    aspect = aspect or asks_if_own_case_qualifies(text)
    if aspect is None:
        return None
    if any(p.key != policy.key for p in named_policies(cat, entity_policies, "")):
        return None
    found = found or resolve(cat, refs, text)
    switch = switched_to(cat, refs, text, policy, found=found)
    if (switch is not None and not tells_a_condition(policy, aspect, switch)
            and not echoes_own_text(cat, text, policy, switch)
            and not refers_by_own_word(refs, text, policy, aspect, switch)):
        return None
    if switch is None and names_another_loosely(cat, text, policy, found):
        return None
    return (points_to(cat, policy, aspect, found) or moved_on(cat, policy, text, found)
            or told_in_context(cat, policy, text) or policy, aspect)


# Words of a policy's own text that send the citizen to another policy ("可申请工伤保险待遇").
HANDS_OVER_WORDS: tuple[str, ...] = tuple(_WORDS.hands_over)
_SENTENCE_END: Final[re.Pattern[str]] = re.compile(r"[。；;！!？?\n]")


def points_to(cat: Catalogue, policy: Policy, aspect: str, found: Resolution) -> Policy | None:
    """Another policy that the discussed policy's own text for `aspect` sends the citizen to
    (`hands_over` words, then its title, in one sentence), else None: "那工伤能赔多少钱" after
    工伤认定, whose amount reads "认定为工伤后，可申请工伤保险待遇". The catalogue says where
    the answer is. When it sends to several (职业技能等级认定's amount: 技能提升补贴 or 职业培训
    补贴), the turn's resolution must offer one; when to one only, the turn need not name it
    ("认下来以后一次性能拿多少钱": its own words echo other subsidies), unless its resolution
    puts another policy first clearly (`clear`). A title merely said ("按不低于最低工资标准
    发放" in 公益性岗位's amount) sends nowhere."""
    if found.decision not in ("answer", "ask"):
        return None
    sent = [after for sentence in _SENTENCE_END.split(policy.aspect_text(aspect))
            for word in HANDS_OVER_WORDS if word in sentence
            for after in (sentence[sentence.index(word):],)]
    sent_to = [p for p in cat if p.key != policy.key and any(p.title in a for a in sent)]
    offered = [p for p in found.policies if p in sent_to]
    if offered:
        return offered[0]
    if len(sent_to) != 1 or clear(found, THRESHOLDS) is not None:
        return None
    return sent_to[0]


# Words that tell the discussed matter did not work out ("调解不成呢"); see `taken_further`.
FAILS_WORDS: tuple[str, ...] = tuple(_WORDS.fails)
# Words that ask for a subsidy ("那交社保的补贴多少"); see `subsidy_of_matter`.
SUBSIDY_WORDS: tuple[str, ...] = tuple(_WORDS.subsidy)
# At least this many characters of the discussed title in a subsidy's title (灵活就业人员) make
# it the subsidy of the same matter; two (就业, 创业, 技能) are shared by too many policies.
_SHARED_TITLE: Final[int] = 3


def moved_on(cat: Catalogue, policy: Policy, text: str, found: Resolution) -> Policy | None:
    """The policy a follow-up moves on to from the discussed one while naming it only by the
    discussed matter: the next step when it failed (`taken_further`) or the subsidy of the
    same matter (`subsidy_of_matter`) or what follows once it went through (`carried_on`),
    else None. Never when the turn's own resolution puts a third policy first clearly or
    refers it to another department: that is a new matter. A weak first guess over the words
    around the ask ("那政府给不给补贴": 公益性岗位) does not stop it."""
    if found.decision == "refer":
        return None
    moved = (taken_further(cat, policy, text) or carried_on(cat, policy, text)
             or subsidy_of_matter(cat, policy, text))
    if moved is None or (found.policies and found.policies[0].key not in (policy.key, moved.key)
                         and clear(found, THRESHOLDS) is not None):
        return None
    return moved


def own_sentences(policy: Policy) -> list[str]:
    """The sentences of everything the catalogue says of `policy`."""
    return [s for field in own_text(policy).split(" ") for s in _SENTENCE_END.split(field) if s]


def taken_further(cat: Catalogue, policy: Policy, text: str) -> Policy | None:
    """The policy that the discussed policy's own text sends the citizen to when it fails
    ("调解不成的可以申请仲裁" in 劳动争议调解's time limit), when the turn tells it failed
    ("调解不成呢", "没谈拢的话下一步找谁"), else None. The sentence must say both a failure
    word and a `hands_over` word followed by the other policy's title or its head word
    (仲裁); one such policy only."""
    if not any(word in text for word in FAILS_WORDS):
        return None
    sent = [sentence[sentence.index(word):] for sentence in own_sentences(policy)
            if any(fails in sentence for fails in FAILS_WORDS)
            for word in HANDS_OVER_WORDS if word in sentence]
    return _the_one_named(cat, policy, sent)


# Words that tell the discussed matter went through ("认定通过了"); see `carried_on`.
WENT_THROUGH_WORDS: tuple[str, ...] = tuple(_WORDS.went_through)
# A sentence that hands over once the matter is done says one of these before the hand-over
# ("认定为工伤后，可申请工伤保险待遇").
_AFTER: Final[tuple[str, ...]] = ("后",)


def carried_on(cat: Catalogue, policy: Policy, text: str) -> Policy | None:
    """The policy that the discussed policy's own text sends the citizen to once it is done
    ("认定为工伤后，可申请工伤保险待遇" in 工伤认定's amount), when the turn tells it went
    through ("认定通过了医药费谁给报"), else None. The sentence must say "后" before a
    `hands_over` word followed by the other policy's title or its head word; one such policy
    only."""
    if not any(word in text for word in WENT_THROUGH_WORDS):
        return None
    sent = [sentence[at:] for sentence in own_sentences(policy)
            for word in HANDS_OVER_WORDS if (at := sentence.find(word)) > 0
            and any(after in sentence[:at] for after in _AFTER)]
    return _the_one_named(cat, policy, sent)


def _the_one_named(cat: Catalogue, policy: Policy, sent: list[str]) -> Policy | None:
    """The one policy other than `policy` whose title or title head the hand-over texts
    `sent` name, else None."""
    heads = {p.key: (p.title, title_head(cat, p)) for p in cat if p.key != policy.key}
    sent_to = [key for key, words in heads.items()
               if any(w and w in after for w in words for after in sent)]
    return cat[sent_to[0]] if len(sent_to) == 1 else None


def subsidy_of_matter(cat: Catalogue, policy: Policy, text: str) -> Policy | None:
    """The subsidy of the discussed matter when a follow-up asks for a subsidy ("那交社保的
    补贴多少" after 灵活就业人员参保登记: 灵活就业人员社会保险补贴), else None. Only after a
    policy that is no subsidy and says none in its own text (城乡居民基本养老保险's 政府补贴 is
    its own amount), and only the one subsidy whose title shares the most of the discussed
    title, at least `_SHARED_TITLE` characters."""
    if not any(word in text for word in SUBSIDY_WORDS):
        return None
    if any(word in policy.title or word in own_text(policy) for word in SUBSIDY_WORDS):
        return None
    shared = {p.key: _shared_length(policy.title, p.title) for p in cat
              if p.key != policy.key and any(word in p.title for word in SUBSIDY_WORDS)}
    best = max(shared.values(), default=0)
    top = [key for key, length in shared.items() if length == best]
    return cat[top[0]] if best >= _SHARED_TITLE and len(top) == 1 else None


def _shared_length(a: str, b: str) -> int:
    """The length of the longest run of characters that `a` and `b` both hold."""
    return max((n for i in range(len(a)) for n in range(1, len(a) - i + 1)
                if a[i:i + n] in b), default=0)


def names_another_loosely(
    cat: Catalogue, text: str, policy: Policy, found: Resolution, title_only: bool = True
) -> bool:
    """Retrieval puts another policy first, weakly, and the turn says the head word of its
    title, foreign to the discussed policy ("那投诉没用的话能去仲裁吗" after 欠薪投诉: 仲裁 of 劳动
    人事争议仲裁; "那失业了还能去参加免费培训吗" after 失业保险金: 培训 of 职业培训补贴): a new
    matter named loosely, answered (or asked about) on its own words, never as the discussed
    policy's aspect. Foreign: none of its names' words nor said in its own text (工资 of 最低
    工资标准 is in 公益性岗位's). The head only: 最低 of 最低工资标准 says "一个月最低交多少",
    not the wage. A condition told ("要是我后面自己去创业了还能领不") asks about the discussed
    policy still. Not `title_only`: any word of any name is enough (房租 of 房租补贴)."""
    if found.decision not in ("answer", "ask") or not found.policies:
        return False
    first = found.policies[0]
    if first.key == policy.key:
        return False
    if not title_only:
        return says_a_name_word(cat, text, first, policy)
    if any(word in text for word in WHAT_IF_WORDS):
        return False
    head = title_head(cat, first)
    said = name_words_said(cat, text, first, policy, title_only=True)
    return head is not None and head in said and head not in own_text(policy)


def title_head(cat: Catalogue, policy: Policy) -> str | None:
    """The word that ends `policy`'s title once its generic parts (补贴, 认定) and aspect words
    (标准) are taken off its end: what the policy is about (仲裁 of 劳动人事争议仲裁, 培训 of
    职业培训补贴, 工资 of 最低工资标准)."""
    core = policy.title
    tails = [w for w in (*GENERIC_PARTS, *ASPECT_FORMS) if len(w) >= 2]
    while (tail := next((w for w in tails if core.endswith(w) and core != w), None)):
        core = core[: -len(tail)]
    words = [w for w in cat.index().tokenizer.terms(core) if len(w) >= 2]
    return max(words, key=lambda w: (core.rfind(w) + len(w), -len(w)), default=None)


def own_text(policy: Policy) -> str:
    """Everything the catalogue says of `policy`, in one string."""
    return " ".join((policy.summary, policy.amount, policy.time_limit, policy.fee,
                     policy.where.office, *policy.eligibility, *policy.materials,
                     *policy.process.online, *policy.process.offline))


# Words that make a turn a question though it holds no question word ("…还是…").
ASKS_WORDS: tuple[str, ...] = tuple(_WORDS.asks)


def is_a_question(text: str) -> bool:
    """The turn asks something: a question word (`vocabulary.asks_something`) or a choice
    ("是打到卡上还是去领现金")."""
    return asks_something(text) or any(word in text for word in ASKS_WORDS)


def still_about_previous(
    cat: Catalogue,
    refs: ReferralTable | None,
    text: str,
    previous: str | None,
    entity_policies: Sequence[str] = (),
    found: Resolution | None = None,
) -> Policy | None:
    """The policy being discussed, when a later question asks about it in words the aspect
    vocabulary does not know ("贷下来能用几年" after 创业担保贷款, "请律师是必须的吗" after 劳动
    仲裁), else None. Its overview answers better than retrieval's weak guess over the same
    words (几年 echoes 社保缴费记录) or "not found": the context is the stronger evidence, as in
    `asked_of_previous`. Not when the turn names a policy or another department's matter,
    retrieval finds another policy clearly and strongly (resolver.switched_to), it opens a new
    matter or asks which other benefits there are, or it asks nothing; nor when it asks the
    same again of something else ("…呢", answered with the previous aspect by the answers),
    retrieval itself finds the policy being discussed (answered there, aspect kept), or the
    turn names another policy loosely (`names_another_loosely`).
    `found`: the message's resolution when the caller already has it (resolved once)."""
    policy = cat.get(previous) if previous else None
    if policy is None or not text or is_payload(text) or opens_a_new_matter(text):
        return None
    names = tuple(n for p in cat for n in p.names)
    if aspect_of(text, ignore=names) is not None or asks_other_benefits(text, None):
        return None
    if named_policies(cat, entity_policies, text):
        return None
    found = found or resolve(cat, refs, text)
    if (moved := moved_on(cat, policy, text, found)) is not None:
        return moved  # "调解不成呢" after 劳动争议调解: 劳动人事争议仲裁, though it asks the same
    if not is_a_question(text) or asks_the_same(text) or asks_of_another(text):
        return None
    if found.decision == "refer" or (found.policies and found.policies[0].key == policy.key):
        return None
    if names_another_loosely(cat, text, policy, found, title_only=False):
        return None  # "那有没有不用打官司的调解" after 劳动仲裁: 劳动争议调解, said loosely
    return policy if switched_to(cat, refs, text, policy, found=found) is None else None


def aspect_kept(text: str, kept: Policy, previous: str | None,
                previous_aspect: str | None) -> str | None:
    """The aspect to answer `kept` (from `still_about_previous`) with: the previous aspect when
    the turn moved on to another policy and asks the same again ("调解不成呢" after where
    劳动争议调解 is done: where 仲裁 is done), else None (the overview)."""
    if kept.key == previous or not asks_the_same(text) or previous_aspect == "overview":
        return None
    return previous_aspect


def echoes_own_text(cat: Catalogue, text: str, policy: Policy, switch: Resolution) -> bool:
    """The turn's own menu holds the discussed policy behind another (resolver's
    `_ranked_above`), but the words of the other's names that the turn says are all words the
    discussed policy's own text says too ("单位不给我申请怎么办" after 工伤认定: 单位 of 用人单位
    社会保险补贴, and 工伤认定 reads "用人单位…提出"): the citizen talks about the discussed
    matter, it stays. A word foreign to it ("认定以后赔偿要多久到账": 赔偿) still leaves."""
    if switch.decision != "ask" or policy not in switch.policies[1:]:
        return False
    said_words = name_words_said(cat, text, switch.policies[0], policy)
    text_of_policy = own_text(policy)
    return bool(said_words) and all(word in text_of_policy for word in said_words)


def refers_by_own_word(
    refs: ReferralTable | None, text: str, policy: Policy, aspect: str, switch: Resolution
) -> bool:
    """The turn is another department's matter only by words that the discussed policy's own
    text for the aspect asked says too ("需要医院的诊断证明吗" after 工伤认定, whose materials
    list 医院的首次诊断证明): the citizen asks that aspect of the discussed matter, it stays.
    A word foreign to it ("医保断了咋整" after 失业保险金), or said of another aspect
    ("开店的营业执照去哪办" after 一次性创业补贴, whose materials, not where, say 营业执照: the
    licence itself), still refers."""
    if refs is None or switch.decision != "refer" or switch.referral is None:
        return False
    said_words = refs.words_said(text, switch.referral)
    text_of_aspect = policy.aspect_text(aspect)
    return bool(said_words) and all(word in text_of_aspect for word in said_words)


def tells_a_condition(policy: Policy, aspect: str, switch: Resolution) -> bool:
    """A follow-up asking whether the citizen qualifies tells a situation whose policy is one
    of the previous policy's conditions ("我这种五十多的下岗的能去吗" after 公益性岗位, whose
    conditions name 就业困难人员): the citizen describes themself, the question stays. A
    policy named still switches."""
    if aspect != "eligibility" or switch.decision != "answer" or switch.evidence != "situation":
        return False
    conditions = " ".join(policy.eligibility)
    return any(name in conditions for name in switch.policies[0].names)


def told_in_context(cat: Catalogue, policy: Policy, text: str) -> Policy | None:
    """Another policy that a follow-up tells as a situation once read with the policy being
    discussed, else None: "那房租能补多少" after 一次性创业补贴 is the venue rent subsidy
    (创业 from the title, 房租 from the turn), not the grant's amount again. The title lends
    only its topic: a word that the previous policy's own situations look for too (创业), never
    a word such as 补贴 that would make "我妈八十多了能补多少" after 居家养老服务补贴 the
    old-age allowance."""
    situations = load_situations()
    told = situations.told(f"{policy.title} {text}")
    if told is None or told.policy == policy.key or told.policy not in cat:
        return None
    topic = {w for s in situations.situations if s.policy == policy.key for g in s.all for w in g}
    lent = [g for g in told.all if not any(said(w, text) for w in g)]
    if not lent:  # told by the turn alone: switched_to has judged it
        return None
    if not all(any(w in topic and said(w, policy.title) for w in g) for g in lent):
        return None
    return cat[told.policy]


# Words of a question about the citizen's own entitlements ("我是低保户能领哪些补贴"): the
# benefits check answers it even when it names another department's matter, which a question
# without them ("老旧小区加装电梯有补贴吗", "我们家是低保户过年有没有慰问金") is referred to.
OWN_WORDS: tuple[str, ...] = tuple(_WORDS.own)
WHICH_WORDS: tuple[str, ...] = tuple(_WORDS.which)


def asks_which_benefits(text: str) -> bool:
    """The turn asks which benefits there are ("我还能领点啥", "有什么补贴"): the benefits
    check keeps it even right after a policy answer. Its words (什么, 啥, 钱) also ask what to
    bring, how, where, what it costs or by when ("我女婿去帮我办要拿些什么"): no benefit asks
    those, so that turn is a follow-up about the policy just answered."""
    if not any(word in text for word in WHICH_BENEFITS_WORDS):
        return False
    return aspect_of(text) in (None, "eligibility", "amount")


def asks_own_benefits(text: str) -> bool:
    """The citizen asks which benefits they have ("我是低保户能领哪些补贴"), not about one
    matter of their own that another department handles ("我们家是低保户过年有没有慰问金")."""
    return any(word in text for word in OWN_WORDS) and any(word in text for word in WHICH_WORDS)


# A step-by-step guide shows how to apply; it does not answer what to bring, where to go, how
# long it takes or what it costs, which are asked of the catalogue even when a guide is named.
GUIDE_ANSWERS: tuple[str, ...] = tuple(_WORDS.guide_answers)
# Words that ask to be walked through ("教我做养老金认证", "一步一步带我弄"): only then does a
# question naming a guide start it. "退休手续怎么办理" asks how it is done, and is answered
# from the catalogue at once, with the guide offered beside the answer (issue 14).
WALKTHROUGH_WORDS: tuple[str, ...] = tuple(_WORDS.walkthrough)


def wants_walkthrough(text: str) -> bool:
    return any(word in text for word in WALKTHROUGH_WORDS)


def named_question(
    cat: Catalogue,
    refs: ReferralTable | None,
    text: str,
    entity_policies: Sequence[str],
    today: date,
    besides: Sequence[str] = (),
    any_aspect: bool = False,
    refer: bool = False,
    found: Resolution | None = None,
) -> Outcome | None:
    """The answer when `text` settles one policy clearly (named verbatim, misheard or mistyped,
    or found by retrieval clearly and strongly: resolver.resolve_clear) and asks one aspect of
    it, other than the aspects `besides` ("失业登计要带什么" tagged as checking benefits;
    "去办退休我要带哪些东西" tagged as starting the retirement guide), or with `any_aspect` asks
    about it at all ("刚毕业在这边租房子有补贴吗"); with `refer`, another department's matter
    is referred ("我想申请低保…" tagged as starting a guide); else None.
    `found`: the message's resolution when the caller already has it (resolved once)."""
    clear = resolve_clear(cat, refs, text, found=found)
    if clear is not None and clear.decision == "refer":
        return (reply_to_question(cat, today, text=text, referrals=refs, resolution=clear)
                if refer else None)
    aspect = aspect_of(text, ignore=tuple(n for p in cat for n in p.names))
    if clear is None or clear.decision != "answer" or aspect in besides:
        return None
    if aspect is None and not any_aspect:
        return None
    return reply_to_question(cat, today, text=text, policy_values=entity_policies,
                             referrals=refs, resolution=clear)
