"""Near-duplicate texts between the answer-evaluation set and every training source.

An evaluation case only measures what the assistant generalises to if nothing it was trained
on is (nearly) the same sentence. One rule, used by the CI check (tests/test_eval_disjoint.py)
and by the ops console's training export (huimin/ops/training.py), which skips a citizen's
annotated message that is a near-duplicate of an evaluation case:

- texts are normalised (NFKC, lower case, punctuation, symbols and whitespace removed);
- two texts are near-duplicates when their Levenshtein distance is at most `MAX_DISTANCE`;
- for training sentences (NLU examples, exported annotations) also when one contains the other
  and the shorter has at least `MIN_CONTAINED` characters;
- catalogue titles and aliases (and NLU examples or synonym/lookup entries that are nothing
  but such a name) are names, not sentences: only the distance applies (a case that is just an
  alias give or take two characters is a duplicate, but a question may name a policy — that
  is what citizens do).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz.distance import Levenshtein

MAX_DISTANCE = 2
MIN_CONTAINED = 4


def normalise(text: str) -> str:
    """NFKC, lower case, and only letters and digits kept (punctuation, symbols, spaces go)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


@dataclass(frozen=True)
class Source:
    """One training text and where it comes from (printed with an offending pair)."""

    text: str
    origin: str
    sentence: bool = True  # False for a catalogue name: distance only, no containment


@dataclass(frozen=True)
class Clash:
    case_id: str
    case_text: str
    source: Source
    reason: str

    def __str__(self) -> str:
        return (f"{self.case_id}: {self.case_text!r} ~ {self.source.text!r} "
                f"({self.source.origin}; {self.reason})")


def clash(case: str, source: str, sentence: bool = True) -> str | None:
    """Why two (raw) texts are near-duplicates, or None when they are not."""
    a, b = normalise(case), normalise(source)
    if not a or not b:
        return None
    distance = Levenshtein.distance(a, b, score_cutoff=MAX_DISTANCE)
    if distance <= MAX_DISTANCE:
        return f"edit distance {distance}"
    if sentence and min(len(a), len(b)) >= MIN_CONTAINED and (a in b or b in a):
        return "contained"
    return None


class Index:
    """Training texts, normalised once, to check many cases against."""

    def __init__(self, sources: Iterable[Source]) -> None:
        self._sources: dict[str, list[Source]] = {}
        for source in sources:
            key = normalise(source.text)
            if key:
                self._sources.setdefault(key, []).append(source)
        self._keys = list(self._sources)

    def __len__(self) -> int:
        return len(self._keys)

    def clashes(self, case_id: str, text: str) -> Iterator[Clash]:
        """Every training text the case text is a near-duplicate of."""
        a = normalise(text)
        if not a:
            return
        for key in self._keys:
            if abs(len(key) - len(a)) <= MAX_DISTANCE:
                distance = Levenshtein.distance(a, key, score_cutoff=MAX_DISTANCE)
                if distance <= MAX_DISTANCE:
                    for source in self._sources[key]:
                        yield Clash(case_id, text, source, f"edit distance {distance}")
                    continue
            if min(len(a), len(key)) >= MIN_CONTAINED and (a in key or key in a):
                for source in self._sources[key]:
                    if source.sentence:
                        yield Clash(case_id, text, source, "contained")

    def first_clash(self, case_id: str, text: str) -> Clash | None:
        return next(self.clashes(case_id, text), None)


@dataclass(frozen=True)
class EvalText:
    """One message of an evaluation case (every turn counts: all of them reach the model)."""

    case_id: str
    text: str


def eval_texts(directory: Path) -> list[EvalText]:
    """Every turn of every case in `directory`/*.yml (the contract's case format)."""
    texts: list[EvalText] = []
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for case in data.get("cases", []):
            texts.extend(EvalText(str(case["id"]), str(turn)) for turn in case["turns"])
    return texts


def training_sources(
    nlu_dir: Path, policies_dir: Path, annotation_files: Iterable[Path] = ()
) -> list[Source]:
    """Every text the assistant is trained on or matches by name.

    NLU examples (entity markup stripped) and annotations exported by the ops console are
    sentences; catalogue titles and aliases and the NLU synonym/lookup entries are names."""
    from huimin.catalogue import load_catalogue, read_nlu

    sources: list[Source] = []
    for policy in load_catalogue(policies_dir):
        sources += [Source(name, f"policies/{policy.key}.yml", sentence=False)
                    for name in (policy.title, *policy.aliases)]
    names = {normalise(s.text) for s in sources}
    examples, tables = read_nlu(sorted(nlu_dir.glob("*.yml")))
    for path in annotation_files:
        examples += read_nlu([path])[0]
    # An example that is only a policy's name is a name: containing it is naming the policy.
    sources += [Source(e.text, f"{Path(e.source).name}:{e.intent}",
                       sentence=normalise(e.text) not in names) for e in examples]
    sources += [Source(text, f"nlu {kind}", sentence=False)
                for kind, table in tables.items() for text in table]
    return sources


def exported_annotation_files(training_dir: Path) -> list[Path]:
    """The annotations.yml of every training run the ops console exported on this machine."""
    return sorted(training_dir.glob("*/data/nlu/annotations.yml"))
