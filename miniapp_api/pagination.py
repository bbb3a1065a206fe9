"""Pagination for every list: ``?page=&per_page=`` in, ``{items, page, per_page, total}`` out.

    @bp.get("/things")
    @require_roles("ops")
    @bp.input(PageQuery, location="query", arg_name="query")
    @bp.output(page_schema(ThingOut))
    def things(query):
        with services().db.session() as s:
            return paginate(s, select(Thing).order_by(Thing.id), query, ThingOut.dump_row)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiflask import Schema
from apiflask.fields import Integer, List, Nested
from apiflask.validators import Range
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 100
_page_schemas: dict[type, type[Schema]] = {}


class PageQuery(Schema):
    page = Integer(load_default=1, validate=Range(min=1, max=100_000), metadata={
        "description": "page number, from 1"})
    per_page = Integer(load_default=20, validate=Range(min=1, max=MAX_PER_PAGE), metadata={
        "description": f"items per page (1-{MAX_PER_PAGE})"})


def page_schema(item: type[Schema]) -> type[Schema]:
    """``{items: [item], page, per_page, total}`` for ``item`` (one class per item schema)."""
    if item not in _page_schemas:
        base = item.__name__.removesuffix("Schema").removesuffix("Out")
        # A subclass of its own: APIFlask warns when one class is both nested here and used
        # as a top-level response elsewhere (e.g. StaffOut).
        nested = type(f"{base}Item", (item,), {})
        _page_schemas[item] = type(f"{base}Page", (Schema,), {
            "items": List(Nested(nested), required=True),
            "page": Integer(required=True),
            "per_page": Integer(required=True),
            "total": Integer(required=True),
        })
    return _page_schemas[item]


def paginate(
    session: Session,
    query: Select,
    params: dict[str, Any],
    render: Callable[[Any], Any] = lambda row: row,
) -> dict[str, Any]:
    """Run ``query`` for one page; ``render`` turns each row into the item's dict."""
    page, per_page = int(params.get("page", 1)), int(params.get("per_page", 20))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": [render(row) for row in rows],
        "page": page,
        "per_page": per_page,
        "total": int(total or 0),
    }


def paginate_list(items: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    """The same shape for a list already in memory (short lists such as consents)."""
    page, per_page = int(params.get("page", 1)), int(params.get("per_page", 20))
    start = (page - 1) * per_page
    return {
        "items": items[start : start + per_page],
        "page": page,
        "per_page": per_page,
        "total": len(items),
    }
