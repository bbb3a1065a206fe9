"""Which policy a citizen's question is about: answer, ask, or refer elsewhere.

Evidence, strongest first:
1. a policy the NLU tagged, or a title/alias contained verbatim in the text, or an occupation's
   certificate (`policies/_certificates.yml`: 电工证 is 职业技能等级认定); one name said while
   the part that asks is about its neighbour goes to the neighbour (`policies/_handovers.yml`:
   "工伤认定下来以后能赔多少" is 工伤保险待遇);
2. a matter of another department (`referrals/`), which is never answered with a policy;
3. an everyday situation told instead of a name (`policies/_situations.yml`: "干活的时候手被
   机器压了" is 工伤认定); it beats the 12345 catch-all of step 2, not another department;
4. a title/alias heard or typed wrongly: the same pinyin (失叶金 = 失业金, 工商认定 = 工伤认定),
   one character off in a name of four or more (劳动冲裁), or one left out of a name of five
   or more (创业场补贴); a whole name misheard this way beats the situation of step 3;
5. BM25 retrieval over the catalogue's text, the question's regional words read plain.
Retrieval answers only when its best candidate stands clear of the next (the margin); when
two or more are close it asks, best first; when nothing is close enough it says so. A wrong
policy stated as the answer is the worst failure, so doubt means asking, never guessing.
The thresholds were chosen on the development set (tests/dev/, `scripts/dev_eval.py`); they
and retrieval's verdict live in `retrieval`, the rules for long questions in `long_questions`.
"""

from __future__ import annotations

from collections.abc import Sequence

from huimin.catalogue.catalogue import Catalogue
from huimin.catalogue.certificates import load_certificates
from huimin.catalogue.coordination import elided_second
from huimin.catalogue.dialect import plain
from huimin.catalogue.handovers import load_handovers
from huimin.catalogue.long_questions import (
    heard_where_asked,
    long_question,
    misheard_where_asked,
    named_after_question,
    named_where_asked,
    refer_or_story,
    referred_past_story_name,
    story_name_doubted,
    the_one_asked,
    told_or_asked,
    told_over_story_name,
)
from huimin.catalogue.misheard import GENERIC_PARTS, around_name, fuzzy_names
from huimin.catalogue.referrals import ReferralTable
from huimin.catalogue.retrieval import (
    THRESHOLDS,
    Resolution,
    Thresholds,
    by_retrieval,
    clear,
    outweighed,
    settled_by_words,
)
from huimin.catalogue.schema import Policy
from huimin.catalogue.situations import load_situations
from huimin.catalogue.text import normalise

__all__ = [
    "THRESHOLDS", "Resolution", "Thresholds", "resolve", "resolve_clear", "resolve_words",
    "switched_to", "with_named",
]
def resolve(
    catalogue: Catalogue,
    referrals: ReferralTable | None,
    text: str,
    named: Sequence[Policy] = (),
    thresholds: Thresholds = THRESHOLDS,
) -> Resolution:
    """Decide from the typed text; `named` are the policies the NLU tagged (catalogue keys).
    A text that names no policy is decided from its words first (`with_named`)."""
    mentioned = _in_text_order(catalogue.mentions(text), text) if text else []
    if named and not mentioned:
        return with_named(resolve(catalogue, referrals, text, (), thresholds), named)
    if text and not mentioned:
        # An occupation's certificate ("考电工证去哪报名") names its policy as surely as an alias.
        key = load_certificates().policy_for(text)
        if key is not None and key in catalogue:
            return Resolution("answer", (catalogue[key],), evidence="name")
    found = list({p.key: p for p in [*mentioned, *named]}.values())
    if len(found) >= 2 and len(mentioned) >= 2:
        asked = the_one_asked(mentioned, text, thresholds)
        return Resolution("answer", (asked,) if asked else tuple(found[:2]), evidence="name")
    if found:
        if len(mentioned) == 1:  # the NLU may tag more; the name in the text comes first
            second = elided_second(catalogue, found[0], text)  # "劳动调解和仲裁"
            if second is not None:
                return Resolution("answer", (found[0], second), evidence="name")
            trailing = named_after_question(catalogue, found[0], referrals, text, thresholds)
            if trailing is not None:
                return trailing
            neighbour = load_handovers().handed_to(found[0], text)
            if neighbour is not None and neighbour in catalogue:
                return Resolution("answer", (catalogue[neighbour],), evidence="name")
            inside = _inside_longer(catalogue, found[0], text, thresholds)
            if inside is not None:
                return inside
            asked = misheard_where_asked(catalogue, found[0], text, thresholds)
            if asked is not None:
                return asked
            referred = referred_past_story_name(catalogue, found[0], referrals, text, thresholds)
            if referred is not None:
                return referred
            other = outweighed(catalogue, found[0], text, thresholds)
            if other is not None and not named_where_asked(catalogue, found[0], text, thresholds):
                return story_name_doubted(catalogue, found[0], other, text, thresholds)
            story = told_over_story_name(catalogue, found[0], text)
            if story is not None:
                return story
        return Resolution("answer", (found[0],), evidence="name")
    if not text:
        return Resolution("none")
    situation = load_situations().told(text)
    told = situation.policy if situation is not None and situation.policy in catalogue else None
    match = referrals.match(text) if referrals is not None else None
    # The 12345 catch-all yields to a situation told ("在小区门口干保洁…拖了我四个月工资"):
    # it is for what no department, 人社 included, handles; so does a department's bare name
    # ("下岗了去民政局还是人社局登记") and a department whose words
    # the situation reads as its own ("家属能领一笔办丧事的钱": 丧事 is 民政's, 办丧事的钱 the
    # funeral grant's).
    if match is not None and not (told and (
        match.yields_to_situation or situation.reads_as_its_own(match.matter.words, text)
    )):
        return refer_or_story(catalogue, referrals, text, match, told, thresholds)
    heard = heard_where_asked(catalogue, text, thresholds)
    if told is not None:
        # A name of four or more misheard in full ("创业场低补贴": every character sounds like
        # 创业场地补贴) or missing one character ("创业场补贴") is more specific than the
        # situation words it shares (创业 … 补贴 tells 一次性创业补贴); a looser likeness
        # (保洁干 ~ 保洁岗, 自己去社保 ~ 自己交社保: one character of another sound) is not.
        alike = fuzzy_names(catalogue, text, shortest=4, sound_only=True)
        if not alike or catalogue[told] in alike:
            return told_or_asked(catalogue, told, text, thresholds)
        heard = alike
    if len(heard) == 1:
        return Resolution("answer", (heard[0],), evidence="fuzzy")
    if heard:
        return Resolution("ask", tuple(heard[: thresholds.max_choices]), evidence="fuzzy")
    # Retrieval reads regional words plain ("莫得工作" as "没有工作"); names are matched above
    # on the citizen's own words.
    return long_question(catalogue, text, by_retrieval(catalogue, plain(text), thresholds),
                          thresholds)


def _inside_longer(
    catalogue: Catalogue, said: Policy, text: str, thresholds: Thresholds
) -> Resolution | None:
    """The one name said verbatim sits inside a longer name misheard or mistyped ("求直创业补贴"
    holds 创业补贴 but sounds like 求职创业补贴): the longer name when it sounds alike, else both
    when the longer is another policy's, the name said first (misheard.around_name)."""
    longer, alike = around_name(catalogue, text, said)
    if not longer:
        return None
    if alike:
        if len(longer) == 1:
            return Resolution("answer", (longer[0],), evidence="name")
        return Resolution("ask", tuple(longer[: thresholds.max_choices]), evidence="doubt")
    # One character of another sound ("失业保险考" ~ 失业保险金) is often the sentence going on.
    others = [p for p in longer if p.key != said.key]
    if not others:
        return None
    return Resolution("ask", (said, *others)[: thresholds.max_choices], evidence="doubt")


def with_named(found: Resolution, named: Sequence[Policy]) -> Resolution:
    """`found`, the resolution of the words alone, once the policies the NLU tagged are added:
    exactly what `resolve(..., named)` decides. A name in the text comes first, and so does an
    everyday situation told in it (`policies/_situations.yml`, "4050…自己交社保政府给补"): the NLU
    tags a story's words loosely (自己交社保 as 灵活就业人员参保登记). The tagged policies decide
    only when the words settle neither (no name, no doubted name, no situation)."""
    if named and found.evidence not in {"name", "doubt", "situation"}:
        return Resolution("answer", (named[0],), evidence="entity")
    return found


def resolve_words(
    catalogue: Catalogue,
    referrals: ReferralTable | None,
    text: str,
    found: Resolution | None = None,
) -> Resolution | None:
    """The resolution when the words alone settle it (a policy named, misheard or mistyped,
    or another department's matter), else None. Retrieval alone is not enough here: this is
    for messages whose intent the NLU could not tell, where a guess would be a wrong answer.
    `found`: the message's resolution (`resolve(catalogue, referrals, text)`) when the caller
    already has it, so one message is resolved once."""
    if not text or text.lstrip().startswith("/"):
        return None
    return settled_by_words(found or resolve(catalogue, referrals, text))


def resolve_clear(
    catalogue: Catalogue,
    referrals: ReferralTable | None,
    text: str,
    thresholds: Thresholds = THRESHOLDS,
    found: Resolution | None = None,
) -> Resolution | None:
    """Like `resolve_words`, and also a policy retrieval finds clearly and strongly (its best
    score at least `switch_score`, the runner-up well behind): "刚毕业在这边租房子有补贴吗" is
    高校毕业生住房补贴 though it names none of its names. Anything weaker is None.
    `found` as in `resolve_words`."""
    if not text or text.lstrip().startswith("/"):
        return None
    return clear(found or resolve(catalogue, referrals, text, thresholds=thresholds), thresholds)


def switched_to(
    catalogue: Catalogue,
    referrals: ReferralTable | None,
    text: str,
    previous: Policy,
    thresholds: Thresholds = THRESHOLDS,
    found: Resolution | None = None,
) -> Resolution | None:
    """The resolution that moves a conversation about `previous` elsewhere, else None: another
    policy named (verbatim, misheard or mistyped), another department's matter, or another
    policy that retrieval finds clearly and strongly ("养老金认证" discussed, then
    "家属领丧葬的钱去哪里领"). A weak retrieval match does not switch: the words around an
    aspect often echo another policy's summary, and the context is the stronger evidence.
    `found` as in `resolve_words`."""
    found = found or resolve(catalogue, referrals, text, thresholds=thresholds)
    typed = bool(text) and not text.lstrip().startswith("/")
    settled = clear(found, thresholds) if typed else None
    if settled is None:
        # A name in the text that the resolver doubts, the look-alike first, is no follow-up
        # either ("公司招了个就业困难人员…单位能拿回多少": the NLU fills the policy slot with
        # 就业困难人员认定 in the same turn, which must not be read as the previous policy).
        if found.evidence == "doubt" and found.policies[0].key != previous.key:
            return found
        if _ranked_above(catalogue, found, previous, text):
            return found
        return None
    if settled.decision == "answer" and all(p.key == previous.key for p in settled.policies):
        return None
    return settled


def _ranked_above(catalogue: Catalogue, found: Resolution, previous: Policy, text: str) -> bool:
    """The turn's own menu holds the previous policy but puts another first, and the turn says
    a word of that other's names that is no word of the previous one's ("认定以后赔偿要多久到
    账" after 工伤认定: 赔偿 is 工伤赔偿's): a new matter said loosely, so ask rather than
    repeat the previous policy. A turn whose menu lacks the previous policy ("一个月工资大概
    多少" after 公益性岗位) stays a follow-up: its words only echo other summaries."""
    if found.decision != "ask" or previous not in found.policies[1:]:
        return False
    return says_a_name_word(catalogue, text, found.policies[0], previous)


# Characters that open a count ("几年", "一次", "两个月"): the words they open name no topic.
_COUNT_STARTS: tuple[str, ...] = tuple("一二两三四五六七八九十几半每")


def says_a_name_word(
    catalogue: Catalogue, text: str, policy: Policy, previous: Policy, title_only: bool = False
) -> bool:
    """The turn says a word of `policy`'s names (`name_words_said`): 赔偿 of 工伤赔偿 after 工伤
    认定, 调解 of 劳动争议调解 after 劳动仲裁. A new matter said loosely, not the one being
    discussed."""
    return bool(name_words_said(catalogue, text, policy, previous, title_only))


def name_words_said(
    catalogue: Catalogue, text: str, policy: Policy, previous: Policy, title_only: bool = False
) -> set[str]:
    """The words of `policy`'s names (two characters or more, not a generic part such as 补贴)
    that the turn says and `previous`'s names lack. A count (几年, 一次) is no topic, though a
    name holds it (社保交了几年, 一次性创业补贴). `title_only`: words of the title only;
    aliases hold everyday words (审批 of 退休审批)."""
    terms = catalogue.index().tokenizer.terms
    asked = {w for w in terms(plain(text))
             if len(w) >= 2 and w not in GENERIC_PARTS and not w.startswith(_COUNT_STARTS)}
    own = {w for name in previous.names for w in terms(name)}
    names = (policy.title,) if title_only else policy.names
    return {w for name in names for w in (asked & set(terms(name))) - own}


def _in_text_order(policies: list[Policy], text: str) -> list[Policy]:
    plain = normalise(text)

    def first(policy: Policy) -> int:
        spots = [plain.find(normalise(n)) for n in policy.names]
        return min((s for s in spots if s >= 0), default=len(plain))

    return sorted(policies, key=first)
