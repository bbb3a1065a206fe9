"""BM25 search over Jieba tokens of each policy's title, aliases and summary.

Used when the NLU did not recognise a policy: the candidates are offered to the citizen as
numbered choices. The Jieba user dictionary is generated from the catalogue itself so that
domain words ("灵活就业", "4050补贴") stay whole; long words also index their dictionary
sub-words, so "4050" still finds "4050补贴".
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jieba
from rank_bm25 import BM25Okapi

from huimin.catalogue.text import normalise

jieba.setLogLevel(logging.WARNING)

# Function words that carry no topic; dropping them keeps short questions focused.
_STOP_TEXT = """
的 了 吗 呢 啊 呀 吧 嘛 么 哦 噢 哈 我 你 您 他 她 我们 你们 是 在 有 没有 和 跟 与 就 都
也 还 要 想 能 会 可以 怎么 怎样 如何 什么 啥 哪 哪些 哪个 多少 一下 一个 这个 那个 请问 是不是
问 问问 想问 咨询 一些 些 给 让 把 被 对 个 下 上 去 来 到 说 看 好 不 没 又 再 得 地 着 过
"""
STOPWORDS = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True)
class SearchHit:
    key: str
    title: str
    score: float
    mentioned: bool  # the query contains the policy's title or one of its aliases verbatim


class PolicyTokenizer:
    """A private Jieba tokenizer with the catalogue's user dictionary loaded."""

    def __init__(self, userdict_lines: Iterable[str]) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.load_userdict(io.StringIO("\n".join(userdict_lines)))

    def words(self, text: str) -> list[str]:
        """Jieba words of the normalised text, without stopwords."""
        words = self._jieba.lcut(normalise(text), HMM=True)
        return [w for w in words if w.strip() and w not in STOPWORDS]

    def terms(self, text: str) -> list[str]:
        """Words plus the dictionary sub-words of each long word (search-engine style)."""
        freq = self._jieba.FREQ
        out: list[str] = []
        for word in self.words(text):
            out.append(word)
            n = len(word)
            for size in range(2, n):
                for start in range(n - size + 1):
                    piece = word[start : start + size]
                    if freq.get(piece) and piece not in STOPWORDS:
                        out.append(piece)
        return out


class PolicyIndex:
    """BM25Okapi over policy documents; build once per catalogue, query many times."""

    def __init__(
        self,
        tokenizer: PolicyTokenizer,
        documents: Sequence[tuple[str, str, Sequence[str], str]],
    ) -> None:
        """`documents` holds (key, title, aliases, summary) per policy."""
        self.tokenizer = tokenizer
        self._keys = [key for key, _, _, _ in documents]
        self._titles = {key: title for key, title, _, _ in documents}
        self._names = {
            key: [normalise(name) for name in (title, *aliases)]
            for key, title, aliases, _ in documents
        }
        corpus = [
            # Names count twice: a match on a name says more than one on the summary.
            tokenizer.terms(" ".join([title, *aliases])) * 2 + tokenizer.terms(summary)
            for _, title, aliases, summary in documents
        ]
        self._bm25 = BM25Okapi(corpus)

    def search(self, text: str, k: int = 5) -> list[SearchHit]:
        """Up to `k` policies ranked best first; verbatim name mentions rank above the rest."""
        query = self.tokenizer.terms(text)
        plain = normalise(text)
        if not query or not plain:
            return []
        scores = self._bm25.get_scores(query)
        hits = []
        for key, score in zip(self._keys, scores, strict=True):
            mention = max((len(n) for n in self._names[key] if n and n in plain), default=0)
            if score > 0 or mention:
                hits.append((mention, float(score), key))
        hits.sort(key=lambda h: (-h[0], -h[1], h[2]))
        return [
            SearchHit(key=key, title=self._titles[key], score=round(score, 4), mentioned=m > 0)
            for m, score, key in hits[:k]
        ]
