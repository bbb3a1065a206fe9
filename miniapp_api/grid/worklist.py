"""The grid worker's worklist: residents of their grids who need a visit, and why."""

from __future__ import annotations

import dataclasses
from datetime import date

from apiflask import Schema
from apiflask.fields import Boolean, Date, Integer, List, String
from apiflask.validators import Length, OneOf

from huimin.grid import search
from huimin.grid.access import GridDenied, consent_in_force, grid_worker
from huimin.grid.worklist import REASONS, Filters, worklist
from huimin.privacy import audit, consent
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.context import api_services, client_ip
from miniapp_api.grid.base import (
    acting,
    bp,
    masked_name,
)
from miniapp_api.pagination import PageQuery, page_schema
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


class WorklistQuery(PageQuery):
    reason = String(validate=OneOf(REASONS), metadata={
        "description": "open_ticket 在线求助未处理 | pending_notice 有政策提醒未确认 | "
                       "follow_up 约好的回访到期 | consent_expiring 授权快到期 | "
                       "no_wechat 没有微信"})
    grid_id = String(validate=Length(min=1, max=64), metadata={"description": "只看这个网格"})
    older = Boolean(load_default=False, metadata={"description": "只看60岁及以上"})
    q = String(validate=Length(min=1, max=search.MAX_QUERY), metadata={
        "description": "在我的网格里找人：姓名中的字，或身份证号后4位（找到的人都列出）"})


class WorkItemOut(Schema):
    resident_id = Integer(required=True)
    name = String(allow_none=True, metadata={"description": "已打码"})
    grid_id = String(allow_none=True)
    age = Integer(allow_none=True)
    urgency = Integer(required=True, metadata={"description": "越大越急"})
    reasons = List(String(), required=True)
    reason_labels = List(String(), required=True)
    open_notices = Integer(required=True)
    notices_for_grid_worker = Integer(required=True)
    soonest_notice_expiry = UtcDateTime(allow_none=True)
    open_tickets = Integer(required=True)
    has_wechat = Boolean(required=True)
    waiting_since = UtcDateTime(allow_none=True)
    follow_up_on = Date(allow_none=True, metadata={"description": "约好的回访日期（已到期）"})
    consent_expires = UtcDateTime(allow_none=True, metadata={
        "description": "授权到期时间（一周内）"})
    consent_scopes = List(String(), required=True, metadata={
        "description": "该居民给您的有效授权范围；为空须先取得授权"})




@bp.get("/grid/worklist")
@require_roles("grid_worker")
@bp.input(WorklistQuery, location="query", arg_name="query")
@bp.output(page_schema(WorkItemOut))
@bp.doc(summary="网格员工作清单",
        description="本人负责网格内：有政策提醒未确认、在线求助未处理、没有微信的居民，"
                    "按紧急程度排序。姓名已打码。")
def get_worklist(query: dict) -> dict:
    me = current_principal()
    today = date.today()
    filters = Filters(reason=query.get("reason"), grid_id=query.get("grid_id"),
                      older=query["older"])
    with services().db.session() as s, acting("grid.worklist.view"):
        staff_grids = grid_worker(s, me.id).grid_ids
        if filters.grid_id is not None and filters.grid_id not in staff_grids:
            raise GridDenied(403, "not_your_grid", "这个网格不归您负责")
        if query.get("q"):
            found = search.find(s, staff_grids, query["q"], api_services().cipher)
            filters = dataclasses.replace(filters, resident_ids=found)
        items, total = worklist(s, staff_grids, filters, query["page"], query["per_page"],
                                today=today)
        rows = []
        for item in items:
            scopes = [sc for sc in consent.GRID_SCOPES
                      if consent_in_force(s, item.resident.id, (sc,), me.id) is not None]
            rows.append({**item.to_dict(today), "name": masked_name(item.resident),
                         "consent_scopes": scopes})
        audit.record(s, me.actor, "grid.worklist.view", "grid_worklist", audit.OK, client_ip(),
                     {"page": query["page"], "count": len(rows), "filters": {
                         "reason": filters.reason, "grid_id": filters.grid_id,
                         "search": bool(query.get("q")),
                         "older": filters.older}})
    return {"items": rows, "page": query["page"], "per_page": query["per_page"], "total": total}
