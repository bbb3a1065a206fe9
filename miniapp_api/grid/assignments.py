"""Which grids each grid worker covers (admins)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Integer, List, Nested, String
from apiflask.validators import Length

from huimin.grid import assignment
from huimin.privacy import audit
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.grid.base import (
    bp,
)
from webapp.extensions import services


class GridsIn(Schema):
    grids = List(String(validate=Length(min=1, max=assignment.MAX_GRID_ID)), required=True,
                 validate=Length(max=200))


class GridsOut(Schema):
    staff_id = Integer(required=True)
    grids = List(String(), required=True)


class GridSummaryOut(Schema):
    grid_id = String(required=True)
    residents = Integer(required=True)
    workers = List(String(), required=True)


class GridSummaryListOut(Schema):
    items = List(Nested(GridSummaryOut), required=True)




@bp.get("/grid/assignments")
@require_roles("admin")
@bp.output(GridSummaryListOut)
@bp.doc(summary="网格一览",
        description="每个网格的居民数和负责的网格员（没有网格员的网格也列出）。")
def grid_summary() -> dict:
    me = current_principal()
    with services().db.session() as s:
        rows = assignment.summary(s)
        audit.record(s, me.actor, "admin.grid.list", "staff_grids", audit.OK, client_ip())
        return {"items": [{"grid_id": r.grid_id, "residents": r.residents,
                           "workers": list(r.workers)} for r in rows]}


@bp.put("/grid/assignments/<int:staff_id>")
@require_roles("admin")
@bp.input(GridsIn, arg_name="body")
@bp.output(GridsOut)
@bp.doc(summary="设置网格员负责的网格", description="整体替换；立即生效。",
        responses={404: "没有这个工作人员", 422: "不是网格员或网格编号不对"})
def set_grids(staff_id: int, body: dict) -> dict:
    me = current_principal()
    with services().db.session() as s:
        try:
            grids = assignment.set_grids(s, staff_id, body["grids"])
        except assignment.AssignmentError as exc:
            if exc.field == "staff_id":
                raise ApiError(404, "not_found", "找不到这个工作人员") from None
            raise ApiError(422, "invalid_input", "填写的内容有误，请检查",
                           fields={"grids": "须为网格员账号，网格编号 1-64 个字符"}) from None
        audit.record(s, me.actor, "admin.grid.assign", f"staff:{staff_id}", audit.OK,
                     client_ip(), {"grids": grids})
        return {"staff_id": staff_id, "grids": grids}
