"""Staff tools: who am I, account administration (admin), hand-off tickets (ops), and a masked
resident look-up (grid workers within their grid and consent; ops and admin).

Every call is a staff action and is written to the audit log.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from sqlalchemy import select

from huimin.identity import accounts
from huimin.identity.accounts import StaffError
from huimin.identity.models import StaffAccount
from huimin.identity.staff_lockout import PairLockout
from huimin.ops.models import HandoffTicket
from huimin.privacy import audit, consent
from huimin.privacy.masking import mask_id_number, mask_name, mask_phone, mask_text, mask_value
from huimin.privacy.pii import ID_NUMBER, NAME, PHONE
from miniapp_api.auth import (
    STAFF_ROLES,
    audit_now,
    authorize_resident_access,
    current_principal,
    require_roles,
)
from miniapp_api.context import api_services, client_ip
from miniapp_api.errors import ApiError
from miniapp_api.pagination import PageQuery, page_schema, paginate
from miniapp_api.schemas import (
    ResidentMaskedOut,
    StaffCreatedOut,
    StaffCreateIn,
    StaffOut,
    TicketOut,
    TicketQuery,
)
from webapp.extensions import services

bp = APIBlueprint("api_staff", __name__, tag="工作人员")

# A grid worker may look a resident up with any of these consents in force.
GRID_LOOKUP_SCOPES = (consent.GRID_WORKER_ASSIST, *consent.GRID_SCOPES)


def _staff_row(account: StaffAccount) -> dict[str, Any]:
    return {
        "id": account.id, "username": account.username, "roles": sorted(account.role_set),
        "grid_ids": sorted(account.grid_ids), "active": account.active,
        "locked": PairLockout(services().redis).locked_addresses(account.username) > 0,
        "last_login_at": account.last_login_at,
    }


@bp.get("/staff/me")
@require_roles(*STAFF_ROLES)
@bp.output(StaffOut)
@bp.doc(summary="当前工作人员")
def staff_me() -> dict:
    with services().db.session() as s:
        account = s.get(StaffAccount, current_principal().id)
        if account is None:
            raise ApiError(401, "account_inactive", "账号不可用，请重新登录")
        return _staff_row(account)


@bp.get("/admin/staff")
@require_roles("admin")
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(page_schema(StaffOut))
@bp.doc(summary="工作人员账号列表")
def list_staff(query: dict) -> dict:
    me = current_principal()
    with services().db.session() as s:
        page = paginate(s, select(StaffAccount).order_by(StaffAccount.id), query, _staff_row)
        audit.record(s, me.actor, "admin.staff.list", "staff_accounts", audit.OK, client_ip())
    return page


@bp.post("/admin/staff")
@require_roles("admin")
@bp.input(StaffCreateIn, arg_name="body")
@bp.output(StaffCreatedOut, status_code=201)
@bp.doc(summary="新建工作人员账号", description="ops、admin 账号返回一次 totp_uri，"
        "请在验证器应用中添加。", responses={409: "用户名已存在"})
def create_staff(body: dict) -> dict:
    me = current_principal()
    error: StaffError | None = None
    with services().db.session() as s:
        try:
            created = accounts.create_staff(
                s, body["username"], body["password"], body["roles"], api_services().cipher,
                grids=body["grids"],
            )
        except StaffError as exc:
            error = exc
        else:
            audit.record(s, me.actor, "admin.staff.create", f"staff:{created.account.id}",
                         audit.OK, client_ip(), {"roles": sorted(created.account.role_set),
                                                 "grids": sorted(created.account.grid_ids)})
            return {**_staff_row(created.account), "totp_uri": created.totp_uri}
    assert error is not None
    audit_now(me.actor, "admin.staff.create", "staff_accounts", audit.FAILED,
              {"field": error.field})
    if error.field == "username" and "taken" in str(error):
        raise ApiError(409, "username_taken", "用户名已存在", fields={"username": str(error)})
    raise ApiError(422, "invalid_input", "账号信息不符合要求", fields={error.field: str(error)})


def _staff_or_404(session: Any, staff_id: int) -> StaffAccount:
    account = session.get(StaffAccount, staff_id)
    if account is None:
        raise ApiError(404, "not_found", "找不到该工作人员")
    return account


@bp.post("/admin/staff/<int:staff_id>/unlock")
@require_roles("admin")
@bp.output(StaffOut)
@bp.doc(summary="解除锁定")
def unlock_staff(staff_id: int) -> dict:
    me = current_principal()
    with services().db.session() as s:
        account = _staff_or_404(s, staff_id)
        lifted = PairLockout(services().redis).unlock(account.username)
        audit.record(s, me.actor, "admin.staff.unlock", f"staff:{staff_id}", audit.OK,
                     client_ip(), {"addresses_unlocked": lifted})
        return _staff_row(account)


@bp.post("/admin/staff/<int:staff_id>/deactivate")
@require_roles("admin")
@bp.output(StaffOut)
@bp.doc(summary="停用账号", description="立即生效：该账号的所有登录失效。")
def deactivate_staff(staff_id: int) -> dict:
    me = current_principal()
    if staff_id == me.id:
        raise ApiError(409, "cannot_deactivate_self", "不能停用自己的账号")
    with services().db.session() as s:
        account = _staff_or_404(s, staff_id)
        account.active = False
        audit.record(s, me.actor, "admin.staff.deactivate", f"staff:{staff_id}", audit.OK,
                     client_ip())
        row = _staff_row(account)
    api_services().tokens.revoke_subject("staff", staff_id)
    return row


def _ticket_row(ticket: HandoffTicket) -> dict[str, Any]:
    # Stored masked already; masked again so older or hand-edited rows cannot leak.
    return {
        "id": ticket.id, "sender_id": ticket.sender_id, "reason": ticket.reason,
        "status": ticket.status, "last_message": mask_text(ticket.last_message or ""),
        "transcript": mask_value(list(ticket.transcript or [])), "created_at": ticket.created_at,
    }


@bp.get("/ops/handoff-tickets")
@require_roles("ops", "admin")
@bp.input(TicketQuery, location="query", arg_name="query")
@bp.output(page_schema(TicketOut))
@bp.doc(summary="转人工工单", description="对话中的身份证号、手机号已打码。")
def handoff_tickets(query: dict) -> dict:
    me = current_principal()
    stmt = select(HandoffTicket).order_by(HandoffTicket.created_at.desc(), HandoffTicket.id.desc())
    if query.get("status"):
        stmt = stmt.where(HandoffTicket.status == query["status"])
    with services().db.session() as s:
        page = paginate(s, stmt, query, _ticket_row)
        audit.record(s, me.actor, "ops.handoff_tickets.list", "handoff_tickets", audit.OK,
                     client_ip(), {"page": page["page"], "count": len(page["items"])})
    return page


@bp.get("/staff/residents/<int:resident_id>")
@require_roles("grid_worker", "ops", "admin")
@bp.output(ResidentMaskedOut)
@bp.doc(summary="居民信息（打码）", description="网格员：仅限本网格且居民已授权网格员协助；"
        "ops、admin：打码查看。每次查看都记入审计日志。",
        responses={403: "不在本网格或未授权"})
def resident_masked(resident_id: int) -> dict:
    cipher = api_services().cipher
    with services().db.session() as s:
        resident = authorize_resident_access(
            s, resident_id, "resident.view_masked", consent_scopes=GRID_LOOKUP_SCOPES,
            staff_roles_without_consent=("ops", "admin"),
        )
        name = resident.name_enc and cipher.decrypt(resident.name_enc.decode(), field=NAME)
        number = resident.id_number_enc and cipher.decrypt(
            resident.id_number_enc.decode(), field=ID_NUMBER)
        phone = resident.phone_enc and cipher.decrypt(resident.phone_enc.decode(), field=PHONE)
        active = consent.active_consents(s, resident.id)
        return {
            "resident_id": resident.id,
            "name": mask_name(name) if name else None,
            "id_number": mask_id_number(number) if number else None,
            "phone": mask_phone(phone) if phone else None,
            "grid_id": resident.grid_id,
            "consents": sorted({c.scope for c in active}),
            "consents_in_force": [{"scope": scope, "expires_at": until}
                                  for scope, until in sorted(_latest_expiry(active).items())],
        }


def _latest_expiry(active: list[Any]) -> dict[str, Any]:
    """Per scope, when the last consent in force for it ends (None: it does not)."""
    latest: dict[str, Any] = {}
    for row in active:
        known = latest.get(row.scope, row.expires_at)
        latest[row.scope] = None if None in (known, row.expires_at) else max(known,
                                                                              row.expires_at)
    return latest
