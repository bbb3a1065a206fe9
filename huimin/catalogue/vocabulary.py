"""NLU vocabulary that is not per-policy data: aspect words and general domain words.

Aspect words become Rasa synonyms (word -> aspect value); domain words go into the Jieba
user dictionary beside the catalogue's titles and aliases so they stay whole tokens.
"""

from __future__ import annotations

from typing import Final, Literal, get_args


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


Aspect = Literal["eligibility", "amount", "materials", "process", "where", "deadline"]
ASPECTS: Final[tuple[str, ...]] = get_args(Aspect)

# Short citizen-facing labels, in the order of the numbered follow-up menu.
ASPECT_LABELS: Final[dict[str, str]] = {
    "eligibility": "申请条件",
    "amount": "标准和金额",
    "materials": "所需材料",
    "process": "怎么办理",
    "where": "在哪办理",
    "deadline": "办理时限",
}

# The words people use for each aspect; every `aspect` annotation in nlu_data must be one of
# these (checked by tests), so the generated synonyms cover the training data.
ASPECT_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "eligibility": _words(
        """
        条件 申请条件 什么条件 啥条件 要求 资格 什么人 哪些人 谁能 谁可以 符合 够不够条件
        能不能领 能不能申请 能不能办 能领吗 能不能享受 有没有资格 门槛
        能领 符合条件 够条件 谁能领
        """
    ),
    "amount": _words(
        """
        多少钱 多少 标准 补贴标准 金额 补多少 给多少 发多少 能领多少 能拿多少 领多少 每月多少
        一个月多少 几个月 多少个月 额度 贷多少 能贷多少 利息 待遇 多少钱一个月
        交多少 要钱吗 收费吗 收不收费 几多钱 多少钱一年
        """
    ),
    "materials": _words(
        """
        材料 什么材料 啥材料 哪些材料 资料 证件 带什么 带啥 要带什么 要带啥 需要带什么 准备什么
        要准备什么 手续材料 身份证 证明
        需要什么材料 要什么材料 要哪些材料 要啥证件
        """
    ),
    "process": _words(
        """
        流程 怎么办 怎么办理 怎么申请 怎么领 怎么领取 如何申请 如何办理 咋办 咋申请 咋领 办理流程
        申请流程 步骤 手续 网上办 网上怎么办 手机上办 线上办 网上申请 怎么报名 怎么去办 怎么投诉
        怎么交
        怎么评 办理步骤
        """
    ),
    "where": _words(
        """
        在哪 在哪里 在哪办 在哪儿办 去哪 去哪办 去哪里 哪里办 到哪办 地址 地点 窗口 哪个窗口
        办公时间 几点上班 几点 电话 哪个部门
        在那办 在那里办 哪里申请 在哪申请 去哪申请 哪儿办 去哪报名
        """
    ),
    "deadline": _words(
        """
        期限 时限 多久 多长时间 多久到账 什么时候 啥时候 截止 截止时间 几天 有效期 过期 时间限制
        多久之内 什么时候发 最晚 逾期
        要多久 多少天 几号发 多久能办好
        """
    ),
}

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

_BY_LENGTH = sorted(
    ((word, aspect) for aspect, words in ASPECT_WORDS.items() for word in words),
    key=lambda pair: -len(pair[0]),
)


def aspect_of(text: str) -> str | None:
    """The aspect named by the longest aspect word in `text`, if any: a fallback for when the
    NLU did not tag an aspect entity."""
    for word, aspect in _BY_LENGTH:
        if word in text:
            return aspect
    return None
