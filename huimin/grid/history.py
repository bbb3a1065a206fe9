"""What staff did for a resident, in plain words, read from the audit log.

The audit log is the one record of actions taken for a resident (it is append-only and
hash-chained), so the resident's history is a view of it, not a second copy that could
disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huimin.grid.models import VISIT_OUTCOMES
from huimin.identity.models import ADMIN, GRID_SUPERVISOR, GRID_WORKER, OPS, VERIFIER, StaffAccount
from huimin.privacy import audit
from huimin.privacy.models import AuditEntry

ROLE_LABELS = ((GRID_WORKER, "网格员"), (GRID_SUPERVISOR, "网格督导员"), (VERIFIER, "核验人员"),
               (ADMIN, "管理员"), (OPS, "运维人员"))


def _title(detail: dict[str, Any]) -> str:
    return str(detail.get("title") or "")


_TEXT: dict[str, Callable[[dict[str, Any]], str]] = {
    "grid.benefits.view": lambda d: "查看了您可以享受的政策",
    "grid.notice.confirm": lambda d: f"帮您确认领取“{_title(d)}”",
    "grid.guide.start": lambda d: (
        f"接着帮您办“{_title(d)}”" if d.get("event") == "resume_offered"
        else f"开始一步一步帮您办“{_title(d)}”"),
    "grid.guide.finish": lambda d: f"帮您办完了“{_title(d)}”",
    "grid.guide.stop": lambda d: f"“{_title(d)}”先办到这里",
    "grid.visit.record": lambda d: "上门走访："
    + VISIT_OUTCOMES.get(str(d.get("outcome")), "已记录"),
    "grid.visit.list": lambda d: "查看了给您的走访记录",
    "grid.consent.request": lambda d: "请您授权网格员协助办理",
    "grid.consent.withdraw": lambda d: "按您的要求撤回了授权",
    "grid.consent.paper_record": lambda d: "登记了您签字的纸质授权书",
    "grid.consent.paper_confirm": lambda d: f"审核通过了您的纸质授权书（{d.get('days')} 天有效）",
    "grid.consent.paper_reject": lambda d: "您的纸质授权书没有通过审核",
    "resident.view_masked": lambda d: "查看了您的基本信息（已打码）",
    # Written by huimin.benefits.notices; the title is looked up from the policy key.
    "benefit.confirm": lambda d: f"帮您确认领取“{_title(d)}”",
    "benefit.decline": lambda d: f"帮您回复不需要“{_title(d)}”",
    "benefit.grant": lambda d: f"“{_title(d)}”已发放",
}
OTHER = "查看或处理了您的信息"


def describe(
    action: str, detail: dict[str, Any] | None, titles: Mapping[str, str] | None = None
) -> str:
    data = dict(detail or {})
    if "title" not in data and "policy" in data:
        data["title"] = (titles or {}).get(str(data["policy"]), str(data["policy"]))
    text = _TEXT.get(action)
    return text(data) if text else OTHER


def who(staff: StaffAccount | None) -> str:
    if staff is None:
        return "工作人员"
    label = next((text for role, text in ROLE_LABELS if role in staff.role_set), "工作人员")
    return f"{label}（{staff.username}）"


def history(
    session: Session,
    resident_id: int,
    page: int = 1,
    per_page: int = 20,
    titles: Mapping[str, str] | None = None,
) -> dict:
    """Newest first: ``{items: [{at, who, action, text}], page, per_page, total}``."""
    where = (AuditEntry.target == f"resident:{resident_id}", AuditEntry.result == audit.OK,
             AuditEntry.actor.like("staff:%"))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = session.scalars(
        select(AuditEntry).where(*where).order_by(AuditEntry.seq.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    staff_ids = {int(e.actor.split(":", 1)[1]) for e in rows if e.actor[6:].isdigit()}
    staff = {s.id: s for s in session.scalars(
        select(StaffAccount).where(StaffAccount.id.in_(staff_ids)))} if staff_ids else {}
    items = []
    for entry in rows:
        staff_id = entry.actor[6:]
        member = staff.get(int(staff_id)) if staff_id.isdigit() else None
        items.append({
            "at": entry.at, "who": who(member), "action": entry.action,
            "text": describe(entry.action, entry.detail, titles),
        })
    return {"items": items, "page": page, "per_page": per_page, "total": int(total)}
