"""The development set (tests/dev/) must keep measuring how the NLU generalises, so the
plain-speech training file written against it (nlu_data/plain_speech.yml) shares no sentence
with it under the evaluation set's near-duplicate rule (huimin/ops/near_duplicates.py).

Older NLU files predate the development set and are not held to this; new files should be."""

from __future__ import annotations

from huimin.ops.near_duplicates import Index, eval_texts, training_sources
from huimin.platform.settings import ROOT

CHECKED_FILES = ("plain_speech.yml",)


def test_plain_speech_training_lines_are_not_near_development_cases() -> None:
    sources = [s for s in training_sources(ROOT / "nlu_data", ROOT / "policies")
               if s.origin.split(":")[0] in CHECKED_FILES]
    assert len(sources) > 150  # the file was really read
    texts = eval_texts(ROOT / "tests" / "dev")
    assert len(texts) > 400
    index = Index(sources)
    offending = [str(c) for t in texts for c in index.clashes(t.case_id, t.text)]
    assert not offending, "training lines too close to development cases:\n" + "\n".join(offending)
