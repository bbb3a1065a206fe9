"""The words that steer a conversation rather than name a policy or an aspect
(`policies/_conversation.yml`), read by the follow-up rules (`follow_ups`) and by the answer
to a policy question (`answers`), which cannot import `follow_ups` (it imports `answers`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from huimin.catalogue.data_file import Words, load_checked
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
    guide_answers: Annotated[list[Aspect], Field(min_length=1)]


def load_conversation_words(path: Path = CONVERSATION_FILE) -> ConversationWords:
    """The conversation word lists; raises ValueError naming the file and field when wrong."""
    return load_checked(path, ConversationWords, "conversation words")


_WORDS = load_conversation_words()


# A turn asking the same of someone else or of another case ("那我媳妇呢她也被裁了", "要是老板
# 跑了呢"): read only when the turn finds nothing of its own, after an answer.
SOMEONE_ELSE_WORDS: tuple[str, ...] = tuple(_WORDS.someone_else)
WHAT_IF_WORDS: tuple[str, ...] = tuple(_WORDS.what_if)


def asks_of_another(text: str) -> bool:
    """The turn asks again with 呢 about someone else or another case: "那我媳妇呢",
    "我奶奶九十了呢", "要是老板跑了呢". A 呢 alone ("那个呢") is not enough."""
    plain = normalise(text)
    return "呢" in plain and any(w in plain for w in (*SOMEONE_ELSE_WORDS, *WHAT_IF_WORDS))
