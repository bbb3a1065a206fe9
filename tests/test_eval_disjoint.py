"""The answer-evaluation set (tests/eval/) shares no sentence with anything the assistant is
trained on: NLU examples, catalogue titles and aliases, and the annotations the ops console
exported for training. Rule and normalisation: huimin/ops/near_duplicates.py."""

from __future__ import annotations

from huimin.ops.near_duplicates import (
    Index,
    Source,
    clash,
    eval_texts,
    exported_annotation_files,
    normalise,
    training_sources,
)
from huimin.platform.settings import ROOT, OpsSettings

EVAL_DIR = ROOT / "tests" / "eval"


def test_normalisation_folds_width_case_punctuation_and_spaces() -> None:
    assert normalise("  ＡＢＣ，失业金　怎么领？！ ") == "abc失业金怎么领"
    assert normalise("4050补贴…") == "4050补贴"


def test_the_rule_catches_near_and_contained_texts_and_lets_a_named_policy_pass() -> None:
    assert clash("失业金怎么领啊", "失业金怎么领") == "edit distance 1"
    assert clash("失业金，怎么 领？", "失业金怎么领") == "edit distance 0"
    assert clash("我被辞退了请问失业金要怎么领取", "失业金要怎么领取") == "contained"
    assert clash("创业补贴多少钱", "社保卡在哪补办") is None
    # Catalogue names: distance only, so a question may name a policy ...
    assert clash("我想问下创业担保贷款最多贷多少", "创业担保贷款", sentence=False) is None
    # ... but a case that is just an alias give or take two characters is a duplicate.
    assert clash("创业贷款呢", "创业贷款", sentence=False) == "edit distance 1"
    # Containment needs four characters: a short text is not "contained" by accident.
    assert clash("在哪里办理这个业务呢请告诉我", "在哪") is None


def test_index_reports_every_offending_pair() -> None:
    index = Index([Source("失业金怎么领", "a.yml:ask_policy"),
                   Source("高龄津贴", "policies/elderly_allowance.yml", sentence=False)])
    found = list(index.clashes("ev-x-1", "失业金怎么领呀"))
    assert [c.source.origin for c in found] == ["a.yml:ask_policy"]
    assert index.first_clash("ev-x-2", "俺爹的高龄津贴一个月给几个钱") is None
    assert index.first_clash("ev-x-3", "高龄津贴呢") is not None


def test_evaluation_set_is_disjoint_from_every_training_source() -> None:
    texts = eval_texts(EVAL_DIR)
    assert len({t.case_id for t in texts}) >= 420
    annotations = exported_annotation_files(OpsSettings().training_dir)
    index = Index(training_sources(ROOT / "nlu_data", ROOT / "policies", annotations))
    assert len(index) > 500  # the NLU data and catalogue were really read
    offending = [str(c) for t in texts for c in index.clashes(t.case_id, t.text)]
    assert not offending, (f"{len(offending)} evaluation texts are near-duplicates of "
                           "training data:\n" + "\n".join(offending))
