"""The words that steer a conversation rather than name a policy or an aspect
(`policies/_conversation.yml`), read by the follow-up rules (`follow_ups`) and by the answer
to a policy question (`answers`), which cannot import `follow_ups` (it imports `answers`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from huimin.catalogue.data_file import Words, load_checked
from huimin.catalogue.situations import said
from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import Aspect

# The word lists that steer a conversation are data ops staff edit, beside the policy files.
CONVERSATION_FILE: Final[Path] = (
    Path(__file__).resolve().parents[2] / "policies" / "_conversation.yml"
)


class ConversationWords(BaseModel):
    """policies/_conversation.yml: every list required, no unknown field (a misspelt one would
    silently switch a rule off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    application_status: Words
    which_benefits: Words
    new_matter: Words
    own: Words
    which: Words
    walkthrough: Words
    qualifies: Words
    someone_else: Words
    what_if: Words
    happened: Words
    myself: Words
    go_on: Words
    on_behalf: Words
    acts_for: Words
    other: Words
    benefit: Words
    what_else: Words
    context_aspects: dict[Aspect, Words]
    hands_over: Words
    fails: Words
    went_through: Words
    subsidy: Words
    asks: Words
    person: Words
    offices: Words
    guide_answers: Annotated[list[Aspect], Field(min_length=1)]


def load_conversation_words(path: Path = CONVERSATION_FILE) -> ConversationWords:
    """The conversation word lists; raises ValueError naming the file and field when wrong."""
    return load_checked(path, ConversationWords, "conversation words")


# Read once; `follow_ups` reads its lists from here too.
WORDS: Final[ConversationWords] = load_conversation_words()


# A turn asking the same of someone else or of another case ("那我媳妇呢她也被裁了", "要是老板
# 跑了呢"): read only when the turn finds nothing of its own, after an answer.
SOMEONE_ELSE_WORDS: tuple[str, ...] = tuple(WORDS.someone_else)
WHAT_IF_WORDS: tuple[str, ...] = tuple(WORDS.what_if)
# ... or of the citizen themself ("那我呢我是自己辞职的"), with 呢.
MYSELF_WORDS: tuple[str, ...] = tuple(WORDS.myself)
# A whole turn asking to go on ("然后呢", "详细说说"): the previous question again.
GO_ON_WORDS: frozenset[str] = frozenset(normalise(w) for w in WORDS.go_on)
_LEADING_FILLERS: Final[tuple[str, ...]] = ("那么", "那", "嗯", "哦", "好的", "好", "行")
_CLOSING_PARTICLES: Final[str] = "啊呀呢吧哈么嘛哦"


def asks_of_another(text: str) -> bool:
    """The turn asks again with 呢 about someone else, the citizen themself or another case
    ("那我媳妇呢", "我奶奶九十了呢", "那我呢我是自己辞职的", "要是老板跑了呢"), or asks as a
    whole to go on ("然后呢", "详细说说"): the previous question again, of the policy just
    answered. A 呢 alone ("那个呢") is not enough."""
    plain = normalise(text)
    words = (*SOMEONE_ELSE_WORDS, *WHAT_IF_WORDS, *MYSELF_WORDS)
    return ("呢" in plain and any(w in plain for w in words)) or tells_what_happened(plain) \
        or asks_to_go_on(plain)


HAPPENED_WORDS: tuple[str, ...] = tuple(WORDS.happened)


def tells_what_happened(text: str) -> bool:
    """The turn tells a case as having happened and ends in 呢 ("公司都关门了老板找不到呢"):
    the previous question again, of that case. Read only when the turn finds nothing of its
    own (answers.reply_to_question)."""
    plain = normalise(text).rstrip("呢")
    return normalise(text).endswith("呢") and any(w in plain for w in HAPPENED_WORDS)


def asks_to_go_on(text: str) -> bool:
    """The whole turn, a leading 那/嗯 and closing particles aside, asks to go on about what
    was just answered ("然后呢", "那详细说说", "具体点吧"); a longer question holding such a
    word ("还有什么补贴") is not one."""
    return whole_turn(text) in GO_ON_WORDS


def whole_turn(text: str) -> str:
    """The turn without a leading 那/嗯/好 and closing particles, to match a whole short turn
    ("那别的还有啥呀" is "别的还有啥")."""
    plain = normalise(text).rstrip(_CLOSING_PARTICLES)
    for filler in _LEADING_FILLERS:
        if plain.startswith(filler) and plain[len(filler):]:
            plain = plain[len(filler):]
            break
    return plain.rstrip(_CLOSING_PARTICLES)


# Someone else doing it for the citizen ("能托人办吗", "让我闺女去给我办中不中").
ON_BEHALF_WORDS: tuple[str, ...] = tuple(normalise(w) for w in WORDS.on_behalf)
ACTS_FOR_WORDS: tuple[str, ...] = tuple(normalise(w) for w in WORDS.acts_for)


def asks_on_behalf(text: str) -> Aspect | None:
    """The aspect "process" when the turn asks whether someone else may do it for the
    citizen ("单位的人能帮我跑吗", "叫我老公去可以不"): who may apply on one's behalf is told
    in how it is done. A relative named without acting ("我儿子去年失业了") is none."""
    plain = normalise(text)
    if any(said(w, plain) for w in ON_BEHALF_WORDS):
        return "process"
    return "process" if any(_acts_for(person, plain) for person in SOMEONE_ELSE_WORDS) else None


# At most this many characters between the one named and what they do ("俺儿子在外地他能替俺弄").
_ACTS_WITHIN: Final[int] = 8
# The citizen said between them is the one acting ("我妈走了我能去领不"): no one else does it.
_CITIZEN: Final[tuple[str, ...]] = ("我", "俺", "自己")


def _acts_for(person: str, plain: str) -> bool:
    """`person` is said and soon after does something for the citizen (`acts_for`), the
    citizen not being the subject in between."""
    at = plain.find(person)
    if at < 0:
        return False
    after = plain[at + len(person):]
    for word in ACTS_FOR_WORDS:
        gap = after.find(word)
        if 0 <= gap <= _ACTS_WITHIN and not any(c in after[:gap] for c in _CITIZEN):
            return True
    return False


# Which other benefits there are ("还有什么补贴我能领", "别的还有啥"): the benefits check's.
OTHER_WORDS: tuple[str, ...] = tuple(WORDS.other)
BENEFIT_WORDS: tuple[str, ...] = tuple(WORDS.benefit)
WHAT_ELSE_WORDS: frozenset[str] = frozenset(whole_turn(w) for w in WORDS.what_else)


def asks_what_else(text: str) -> bool:
    """The turn asks which other benefits there are: a benefit word after an "other" word
    ("还有什么补贴我能领", "除了这个别的补助有没有"; not "这个政策还有什么要注意的"), or the
    whole turn is such a question ("别的还有啥")."""
    plain = normalise(text)
    if whole_turn(plain) in WHAT_ELSE_WORDS:
        return True
    for other in OTHER_WORDS:
        at = plain.find(other)
        if at >= 0 and any(w in plain[at + len(other):] for w in BENEFIT_WORDS):
            return True
    return False


# Words that close a follow-up asking whether the citizen may take part ("我这种五十多的下岗的
# 能去吗" after 公益性岗位): said last, after the policy was named, they ask its conditions,
# whatever aspect words the citizen's story holds (五十多 is an age, not 多少).
QUALIFIES_WORDS: tuple[str, ...] = tuple(normalise(w) for w in WORDS.qualifies)


def asks_if_qualifies(text: str) -> Aspect | None:
    """The aspect "eligibility" when the turn ends asking whether the citizen may take part."""
    plain = normalise(text).rstrip(_CLOSING_PARTICLES)
    return "eligibility" if plain.endswith(QUALIFIES_WORDS) else None


def asks_if_own_case_qualifies(text: str) -> Aspect | None:
    """The aspect "eligibility" when the turn asks whether the citizen's own case qualifies
    and then tells it ("我这个情况行不行我是农村来的"): the question names the citizen (`myself`)
    before the words that ask, so the story after it cannot be mistaken for the question.
    Read only when the turn asks no other aspect."""
    plain = normalise(text)
    for word in MYSELF_WORDS:
        at = plain.find(word)
        if at >= 0 and any(q in plain[at + len(word):] for q in QUALIFIES_WORDS):
            return "eligibility"
    return None


# Words that ask an aspect only once a policy is being discussed ("周末上班吗": where).
CONTEXT_ASPECT_WORDS: tuple[tuple[Aspect, str], ...] = tuple(
    (aspect, normalise(w)) for aspect, words in WORDS.context_aspects.items() for w in words
)


def context_aspect(text: str) -> Aspect | None:
    """The aspect a follow-up asks by a word that asks it only after an answer ("周末上班吗"
    asks the office hours, "网上行不行" the online way), else None."""
    plain = normalise(text)
    return next((aspect for aspect, word in CONTEXT_ASPECT_WORDS if word in plain), None)
