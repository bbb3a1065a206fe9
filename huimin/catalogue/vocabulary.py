"""NLU vocabulary that is not per-policy data: aspect words and general domain words.

Aspect words become Rasa synonyms (word -> aspect value); domain words go into the Jieba
user dictionary beside the catalogue's titles and aliases so they stay whole tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    field_validator,
)

from huimin.catalogue.data_file import load_checked
from huimin.catalogue.dialect import plain


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


Aspect = Literal[
    "eligibility", "amount", "fee", "materials", "process", "where", "deadline"
]  # fmt: skip
ASPECTS: Final[tuple[str, ...]] = get_args(Aspect)

# The aspect vocabulary is data that ops staff edit, beside the policy files.
ASPECTS_FILE: Final[Path] = Path(__file__).resolve().parents[2] / "policies" / "_aspects.yml"


class _AspectEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=8)]
    words: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    # Read by the resolver only, never an NLU input: editing them needs no retraining.
    phrases: Annotated[str, StringConstraints(strip_whitespace=True)] = ""


class _AspectFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    aspects: dict[Aspect, _AspectEntry]

    @field_validator("aspects")
    @classmethod
    def _complete_and_unambiguous(cls, value: dict[str, _AspectEntry]) -> dict:
        missing = [a for a in ASPECTS if a not in value]
        if missing:
            raise ValueError(f"every aspect needs an entry; missing: {', '.join(missing)}")
        owner: dict[str, str] = {}
        for aspect, entry in value.items():
            for word in [*entry.words.split(), *entry.phrases.split()]:
                if owner.setdefault(word, aspect) != aspect:
                    raise ValueError(f"'{word}' is listed under both {owner[word]} and {aspect}")
        return value


def load_aspects(
    path: Path = ASPECTS_FILE,
) -> tuple[dict[str, str], dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Labels, words and phrases per aspect from the vocabulary file, in ASPECTS order;
    raises ValueError naming the file and field when the file is wrong."""
    parsed = load_checked(path, _AspectFile, "aspect vocabulary")
    labels = {a: parsed.aspects[a].label for a in ASPECTS}
    words = {a: _words(parsed.aspects[a].words) for a in ASPECTS}
    phrases = {a: _words(parsed.aspects[a].phrases) for a in ASPECTS}
    return labels, words, phrases


# Short citizen-facing labels, and the words people use for each aspect; every `aspect`
# annotation in nlu_data must be one of these (checked by tests), so the generated synonyms
# cover the training data. The phrases are the resolver's alone: the model is not trained on
# them, so ops staff can add a way of asking without a retrain (issue 14).
_LABELS, _WORDS, _PHRASES = load_aspects()
ASPECT_LABELS: Final[dict[str, str]] = _LABELS
ASPECT_WORDS: Final[dict[str, tuple[str, ...]]] = _WORDS
ASPECT_PHRASES: Final[dict[str, tuple[str, ...]]] = _PHRASES

# Domain words kept whole by Jieba besides the catalogue's titles and aliases.
DOMAIN_WORDS: Final[tuple[str, ...]] = _words(
    """
    人社 人社局 人力资源和社会保障局 社保 社保局 社保卡 电子社保卡 社会保障卡 医保 养老金
    养老保险 失业保险 工伤保险 医疗保险 失业登记 就业登记 灵活就业 灵活就业人员 4050 4050人员
    就业困难 就业困难人员 零就业家庭 低保 低保户 户籍 户口 本地户口 网格员 就业码 就创码 12333
    养老金认证 资格认证 刷脸认证 缴费记录 缴费年限 退休 办退休 失业金 补贴 创业 创业补贴 职业技能
    技能证书 职业资格证书 技能等级证书 劳动合同 劳动仲裁 欠薪 工资 农民工 高校毕业生 应届毕业生
    毕业生 返乡创业 个体户 营业执照 公益性岗位 见习 学徒 高龄 高龄补贴 残疾人 残疾证 一次性 稳岗
    失业保险金 申领 认定 政务服务网 小程序 公众号 银行卡 身份证 停保 断缴 补缴 转移接续 档案 职称
    刷脸 辞退 开店 考证 拖欠 包工头 离职 下岗
    """
)

# Each word also in its plain Mandarin reading ("带啥子" as "带什么"), as questions are read
# plain; not a reading of two characters: "啷个" read "怎么" would make "怎么回事" a process word.
_ALL_WORDS = list(dict.fromkeys(
    (form, aspect)
    for vocabulary in (ASPECT_WORDS, ASPECT_PHRASES)
    for aspect, words in vocabulary.items()
    for word in words
    for form in (word, plain(word))
    if form == word or len(form) > 2
))
# Every aspect word in every form, for blanking a question's aspect out of its other words.
ASPECT_FORMS: Final[tuple[str, ...]] = tuple(dict.fromkeys(word for word, _ in _ALL_WORDS))


def aspect_of(text: str, ignore: tuple[str, ...] = ()) -> str | None:
    """The aspect named in `text`, if any: its longest aspect word, and among equally long
    ones the last (the closing words of a rambling question carry what is asked).
    `ignore` are names to blank out first ("养老金资格认证" holds 资格 but asks nothing);
    regional words are then read as plain Mandarin ("带啥子" is "带什么"; catalogue.dialect)."""
    for name in sorted(ignore, key=len, reverse=True):
        text = text.replace(name, " " * len(name))
    text = plain(text)
    best: tuple[int, int, str] | None = None
    for word, aspect in _ALL_WORDS:
        end = text.rfind(word)
        if end >= 0:
            rank = (len(word), end + len(word), aspect)
            if best is None or rank[:2] > best[:2]:
                best = rank
    return best[2] if best else None
