"""Request and response schemas shared by the identity endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from marshmallow import ValidationError, validates

from huimin.identity.accounts import validate_name
from huimin.identity.models import STAFF_ROLES, USERNAME_MAX
from huimin.privacy import consent


class UtcDateTime(DateTime):
    """RFC 3339 with an offset: SQLite hands back naive datetimes, which are UTC here."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


# Codes from wx.login / the phone button are opaque; WeChat's are 32-64 characters.
_CODE = Length(min=1, max=256)
CITIZEN_GRANTABLE = tuple(s for s in consent.SCOPES if s != consent.REAL_NAME)


class CodeIn(Schema):
    code = String(required=True, validate=_CODE, metadata={
        "description": "小程序 wx.login（或手机号按钮）返回的一次性 code"})


class RefreshIn(Schema):
    refresh_token = String(required=True, validate=Length(min=1, max=512))


class TokenOut(Schema):
    access_token = String(required=True)
    token_type = String(required=True, metadata={"example": "Bearer"})
    expires_in = Integer(required=True, metadata={"description": "seconds"})
    refresh_token = String(required=True)
    refresh_expires_in = Integer(required=True, metadata={"description": "seconds"})


class StaffLoginIn(Schema):
    username = String(required=True, validate=Length(min=1, max=USERNAME_MAX))
    password = String(required=True, validate=Length(min=1, max=256))
    totp = String(validate=Length(min=1, max=16), metadata={
        "description": "动态验证码（ops、admin 必填）"})


class RealNameIn(Schema):
    name = String(required=True, validate=Length(min=1, max=50))
    id_number = String(required=True, validate=Length(min=1, max=32))
    consent = Boolean(required=True, metadata={
        "description": "单独同意处理身份证号等敏感个人信息，必须为 true"})
    verify_id = String(validate=Length(min=1, max=256), metadata={
        "description": "刷脸验证（POST /me/real-name/face，再 wx.requestFacialVerify）的 "
                       "verify_id；不填时须已绑定与社保记录一致的微信手机号"})

    @validates("name")
    def _name(self, value: str, **_: object) -> None:
        problem = validate_name(value)
        if problem:
            raise ValidationError(problem)

    @validates("consent")
    def _consent(self, value: bool, **_: object) -> None:
        if value is not True:
            raise ValidationError("需要您单独同意后才能实名认证")


class ProfileOut(Schema):
    account_id = Integer(required=True)
    real_name_verified = Boolean(required=True)
    name = String(allow_none=True, metadata={"description": "masked: 张*"})
    id_number = String(allow_none=True, metadata={"description": "masked: 3401**********1234"})
    phone = String(allow_none=True, metadata={"description": "masked: 138****5678"})
    grid_id = String(allow_none=True)
    consents = List(String(), required=True, metadata={"description": "scopes in force"})
    created_at = UtcDateTime(required=True)
    real_name_status = String(required=True, metadata={
        "description": "none | verified | suspended (another person's appeal is being checked) "
                       "| appeal_pending (your appeal is being checked)"})
    real_name_notice = String(allow_none=True, metadata={
        "description": "the latest real-name notice for this account, in Chinese"})


class ConsentIn(Schema):
    scope = String(required=True, validate=OneOf(CITIZEN_GRANTABLE))
    expires_in_days = Integer(validate=Range(min=1, max=3650), metadata={
        "description": "有效天数；不填则长期有效，可随时撤回"})
    granted_to = Integer(validate=Range(min=1), metadata={
        "description": "只授权给这位网格员（工作人员编号）；不填则本网格的网格员均可"})


class ConsentOut(Schema):
    id = Integer(required=True)
    scope = String(required=True)
    label = String(required=True)
    channel = String(required=True)
    granted_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(allow_none=True)
    withdrawn_at = UtcDateTime(allow_none=True)
    granted_to = Integer(allow_none=True)
    active = Boolean(required=True)


class ConsentListQuery(Schema):
    page = Integer(load_default=1, validate=Range(min=1, max=100_000))
    per_page = Integer(load_default=20, validate=Range(min=1, max=100))
    include_history = Boolean(load_default=False, metadata={
        "description": "也列出已撤回和已过期的记录"})


class WithdrawOut(Schema):
    scope = String(required=True)
    withdrawn = Integer(required=True, metadata={"description": "how many records ended"})


class ExportAccount(Schema):
    account_id = Integer(required=True)
    openid = String(allow_none=True)
    unionid = String(allow_none=True)
    phone = String(allow_none=True)
    created_at = UtcDateTime(required=True)
    last_login_at = UtcDateTime(allow_none=True)


class ExportResident(Schema):
    resident_id = Integer(required=True)
    name = String(allow_none=True)
    id_number = String(allow_none=True)
    phone = String(allow_none=True)
    grid_id = String(allow_none=True)
    facts = Dict(keys=String(), required=True)


class ExportAccess(Schema):
    at = UtcDateTime(required=True)
    who = String(required=True, metadata={"description": "本人 / 工作人员 / 系统"})
    action = String(required=True)
    result = String(required=True)


class ExportConsent(ConsentOut):
    """A consent record in the export (its own class: ConsentOut is also a response)."""


class ExportOut(Schema):
    exported_at = UtcDateTime(required=True)
    account = Nested(ExportAccount, required=True)
    resident = Nested(ExportResident, allow_none=True)
    consents = List(Nested(ExportConsent), required=True)
    access_log = List(Nested(ExportAccess), required=True)


class StaffOut(Schema):
    id = Integer(required=True)
    username = String(required=True)
    roles = List(String(), required=True)
    grid_ids = List(String(), required=True)
    active = Boolean(required=True)
    locked = Boolean(required=True)
    last_login_at = UtcDateTime(allow_none=True)


class StaffCreateIn(Schema):
    username = String(required=True, validate=Length(min=1, max=USERNAME_MAX))
    password = String(required=True, validate=Length(min=1, max=256))
    roles = List(String(validate=OneOf(STAFF_ROLES)), required=True, validate=Length(min=1))
    grids = List(String(validate=Length(min=1, max=64)), load_default=list)


class StaffCreatedOut(StaffOut):
    totp_uri = String(allow_none=True, metadata={
        "description": "otpauth:// URI for the authenticator app, shown once (ops, admin)"})


class TicketQuery(Schema):
    page = Integer(load_default=1, validate=Range(min=1, max=100_000))
    per_page = Integer(load_default=20, validate=Range(min=1, max=100))
    status = String(validate=OneOf(("open", "claimed", "closed")))


class TicketOut(Schema):
    id = Integer(required=True)
    sender_id = String(required=True, metadata={"description": "pseudonymous conversation id"})
    reason = String(required=True)
    status = String(required=True)
    last_message = String(required=True, metadata={"description": "personal data masked"})
    transcript = List(Dict(), required=True, metadata={"description": "personal data masked"})
    created_at = UtcDateTime(required=True)


class ConsentInForceOut(Schema):
    scope = String(required=True)
    expires_at = UtcDateTime(allow_none=True, metadata={"description": "空：长期有效"})


class ResidentMaskedOut(Schema):
    resident_id = Integer(required=True)
    name = String(allow_none=True)
    id_number = String(allow_none=True)
    phone = String(allow_none=True)
    grid_id = String(allow_none=True)
    consents = List(String(), required=True)
    consents_in_force = List(Nested(ConsentInForceOut), required=True, metadata={
        "description": "生效中的授权及到期时间（同一范围取最晚到期的）"})
