"""Step-by-step guides for the mini-program, and the citizen's care-mode (适老化) setting.

Every response that shows guide text carries ``care_mode``: when true the front end uses
its large-font layout (body text 18 pt or more, touch targets at least 60×60 pt, per the
national age-friendly specification) and the wording is the simpler care-mode text.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String

from huimin.guides import Guide, care
from huimin.guides.service import guide_store
from huimin.privacy import audit
from miniapp_api.auth import PUBLIC, current_principal, optional_principal, require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from webapp.extensions import services

bp = APIBlueprint("api_guides", __name__, tag="办事指引")


class CareModeOut(Schema):
    care_mode = Boolean(required=True, metadata={
        "description": "true：使用大字版（正文≥18pt，按钮≥60×60pt）和更简单的说法"})
    source = String(required=True, metadata={
        "description": "why: choice（本人设置）| age（60岁及以上）| default"})
    choice = Boolean(allow_none=True, metadata={"description": "本人的设置；null 表示按年龄"})
    age = Integer(allow_none=True)
    age_threshold = Integer(required=True)


class CareModeIn(Schema):
    care_mode = Boolean(required=True, allow_none=True, metadata={
        "description": "true 开启，false 关闭，null 恢复默认（60岁及以上自动开启）"})


class GuideQuery(Schema):
    care_mode = Boolean(metadata={
        "description": "强制使用（或不用）大字简单版；默认按登录市民的设置"})


class GuideCheckOptionOut(Schema):
    number = Integer(required=True)
    label = String(required=True)


class GuideCheckOut(Schema):
    question = String(required=True)
    options = List(Nested(GuideCheckOptionOut), required=True)


class GuideStepOut(Schema):
    id = String(required=True)
    number = Integer(allow_none=True, metadata={"description": "第几步；提示步骤为 null"})
    text = String(required=True)
    image = String(allow_none=True)
    help = Boolean(required=True)
    check = Nested(GuideCheckOut, allow_none=True)


class GuideSummaryOut(Schema):
    key = String(required=True)
    title = String(required=True)
    for_whom = String(required=True)
    step_count = Integer(required=True, metadata={"description": "主要步骤数"})


class GuideListOut(Schema):
    care_mode = Boolean(required=True)
    items = List(Nested(GuideSummaryOut), required=True)


class GuideOut(GuideSummaryOut):
    care_mode = Boolean(required=True)
    prepare = List(String(), required=True)
    done = String(allow_none=True)
    steps = List(Nested(GuideStepOut), required=True)


def _store():
    return guide_store(services().settings.guides_dir)


def _care_mode(requested: bool | None) -> bool:
    """An explicit request wins; else the signed-in citizen's care mode; else off."""
    if requested is not None:
        return requested
    principal = optional_principal()
    if principal is None or principal.is_staff:
        return False
    with services().db.session() as s:
        return care.resolve(s, resident_id=principal.resident_id, account_id=principal.id).enabled


def _summary(guide: Guide) -> dict[str, Any]:
    return {"key": guide.key, "title": guide.title, "for_whom": guide.for_whom,
            "step_count": guide.main_count}


def _detail(guide: Guide, care_mode: bool) -> dict[str, Any]:
    steps = []
    for step in guide.steps:
        check = None
        if step.check:
            question = (step.check.care_question if care_mode else None) or step.check.question
            check = {"question": question, "options": [
                {"number": i, "label": o.label} for i, o in enumerate(step.check.options, 1)]}
        steps.append({
            "id": step.id, "number": guide.main_number(step.id),
            "text": (step.care_text if care_mode else None) or step.text,
            "image": step.image, "help": step.help, "check": check,
        })
    return {**_summary(guide), "care_mode": care_mode, "prepare": list(guide.prepare),
            "done": guide.done, "steps": steps}


@bp.get("/guides")
@require_roles(PUBLIC)
@bp.input(GuideQuery, location="query", arg_name="query")
@bp.output(GuideListOut)
@bp.doc(summary="办事指引列表", description="登录市民的请求按其关怀模式返回 care_mode。")
def list_guides(query: dict) -> dict:
    store = _store()
    store.reload_if_changed()
    guides = [store.guides[k] for k in sorted(store.guides)]
    return {"care_mode": _care_mode(query.get("care_mode")),
            "items": [_summary(g) for g in guides]}


@bp.get("/guides/<key>")
@require_roles(PUBLIC)
@bp.input(GuideQuery, location="query", arg_name="query")
@bp.output(GuideOut)
@bp.doc(summary="办事指引详情", responses={404: "没有这个办事指引"},
        description="准备材料和每一步；care_mode 为 true 时是更简单的说法。")
def guide_detail(key: str, query: dict) -> dict:
    store = _store()
    store.reload_if_changed()
    guide = store.get(key)
    if guide is None:
        raise ApiError(404, "unknown_guide", "没有这个办事指引")
    return _detail(guide, _care_mode(query.get("care_mode")))


@bp.get("/me/care-mode")
@require_roles("citizen")
@bp.output(CareModeOut)
@bp.doc(summary="我的关怀模式（大字版）",
        description="60岁及以上默认开启；本人可以开启或关闭。")
def get_care_mode() -> dict:
    me = current_principal()
    with services().db.session() as s:
        return care.resolve(s, resident_id=me.resident_id, account_id=me.id).to_dict()


@bp.put("/me/care-mode")
@require_roles("citizen")
@bp.input(CareModeIn, arg_name="body")
@bp.output(CareModeOut)
@bp.doc(summary="设置关怀模式（大字版）", description="也适用于公众号里的办事指引。")
def put_care_mode(body: dict) -> dict:
    me = current_principal()
    with services().db.session() as s:
        care.choose(s, body["care_mode"], resident_id=me.resident_id, account_id=me.id)
        audit.record(s, me.actor, "citizen.care_mode.set", me.actor, audit.OK, client_ip(),
                     {"care_mode": body["care_mode"]})
        return care.resolve(s, resident_id=me.resident_id, account_id=me.id).to_dict()
