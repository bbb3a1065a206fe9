"""In-memory state of the emulated WeChat servers, and the rules WeChat applies to it.

One `EmulatorState` per app; every public method takes the lock, so a threaded server
(several workers sending messages at once) sees the same limits WeChat enforces.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from itertools import count
from typing import Any

from emulator.config import EmulatorConfig
from emulator.errors import ControlError, WeChatError, rid

CS_WINDOW_SECONDS = 48 * 3600  # customer-service messages: 48 h after the user's last action
CS_MESSAGE_LIMIT = 5  # ... and at most 5 messages per user action
STABLE_RENEW_AHEAD = 300  # stable_token renews 5 minutes before expiry
FORCE_REFRESH_INTERVAL = 30  # forced stable refreshes closer than 30 s do not refresh
FORCE_REFRESH_DAILY = 20
MEDIA_TTL = 3 * 24 * 3600  # temporary media lives 3 days
MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "thumb": 64 << 10}
CUSTOM_MSGTYPES = ("text", "image", "news", "miniprogrampage")
# Events that open the customer-service window (WeChat's list); VIEW, LOCATION and
# unsubscribe do not.
INTERACTIVE_EVENTS = frozenset({"subscribe", "SCAN", "CLICK", "scancode_push", "scancode_waitmsg"})
SEC_CHECK_SCENES = (1, 2, 3, 4)
LOG_LIMIT = 10_000  # calls/messages kept for inspection by a long-running simulator


def new_openid() -> str:
    """28 url-safe characters starting with "o", the shape wechatpy's OPENID_RE expects."""
    return "o" + secrets.token_urlsafe(21)[:27]


def _same_secret(expected: str, given: str) -> bool:
    """Constant-time compare that also copes with non-ASCII input (str compare_digest raises)."""
    return secrets.compare_digest(expected.encode(), given.encode())


@dataclass
class Token:
    value: str
    appid: str
    kind: str  # "basic" (/cgi-bin/token) or "stable" (/cgi-bin/stable_token)
    expires_at: float
    revoked: bool = False


@dataclass
class User:
    openid: str
    appid: str  # an openid belongs to exactly one account, as on WeChat
    unionid: str
    subscribed: bool = True
    blocked: bool = False
    rate_limited: bool = False
    last_interaction: float | None = None
    sent_since_interaction: int = 0
    # template_id -> accepted one-time subscriptions not yet used
    subscriptions: dict[str, int] = field(default_factory=dict)
    session_key: str | None = None


@dataclass
class OneTimeCode:
    code: str
    appid: str
    issued_at: float
    openid: str | None = None
    phone: str | None = None
    country_code: str | None = None
    used: bool = False


FACE_VERIFY_TTL = 3600
# queryverifyinfo before the user went through wx.requestFacialVerify: "user cancelled".
FACE_NOT_DONE = 90002
_SEQ_NO = re.compile(r"[0-9A-Za-z_-]{5,32}")
_CERT_FIELDS = ("cert_type", "cert_name", "cert_no")


@dataclass
class FaceSession:
    """One face verification (人脸核身 2.0): getverifyid, then the user's
    wx.requestFacialVerify, then queryverifyinfo."""

    verify_id: str
    appid: str
    openid: str
    out_seq_no: str
    cert_hash: str
    expires_at: float
    # None until the user went through wx.requestFacialVerify
    verify_ret: int | None = None


def face_cert_hash(cert_type: str, cert_name: str, cert_no: str) -> str:
    """WeChat's cert_hash: standard base64 of each field, joined as
    ``cert_type=..&cert_name=..&cert_no=..``, SHA-256, lower-case hex."""
    parts = [f"{k}={base64.b64encode(v.encode()).decode()}"
             for k, v in (("cert_type", cert_type), ("cert_name", cert_name),
                          ("cert_no", cert_no))]
    return hashlib.sha256("&".join(parts).encode()).hexdigest()


@dataclass
class Media:
    media_id: str
    appid: str
    type: str
    data: bytes
    content_type: str
    created_at: int


@dataclass
class Fault:
    errcode: int  # 0 with a delay: the call is handled as usual, its answer only held back
    remaining: int
    errmsg: str | None = None
    status: int = 200
    delay: float = 0.0  # seconds the answer is held back (the call already took effect)


@dataclass
class Envelope:
    mode: str
    openid: str


class EmulatorState:
    """Everything WeChat would remember between calls, guarded by one lock."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._tokens: dict[str, Token] = {}
            self._stable: dict[str, Token] = {}
            self._last_force: dict[str, float] = {}
            self._force_count: dict[tuple[str, int], int] = {}
            self._users: dict[str, User] = {}
            self._login_codes: dict[str, OneTimeCode] = {}
            self._phone_codes: dict[str, OneTimeCode] = {}
            self._faces: dict[str, FaceSession] = {}
            self._face_seq_nos: set[str] = set()
            self._oauth_codes: dict[str, OneTimeCode] = {}
            self._media: dict[str, Media] = {}
            self._faults: dict[str, Fault] = {}
            self._calls: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
            self._messages: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
            self._call_ids = count(1)
            self._message_ids = count(1)
            self._envelopes: dict[str, Envelope] = {}
            self.risky_words: dict[str, int] = dict(self.config.risky_words)

    def now(self) -> float:
        return self.config.clock()

    # ---- access tokens -------------------------------------------------------------

    def _check_app(self, appid: str | None, secret: str | None, grant_type: str | None) -> str:
        if not appid:
            raise WeChatError(41002)
        if not secret:
            raise WeChatError(41004)
        if grant_type != "client_credential":
            raise WeChatError(40002)
        if appid not in self.config.apps:
            raise WeChatError(40013)
        if not _same_secret(self.config.apps[appid], secret):
            raise WeChatError(40125)
        return appid

    def _new_token(self, appid: str, kind: str) -> Token:
        token = Token(
            value=f"89_{secrets.token_urlsafe(96)}",
            appid=appid,
            kind=kind,
            expires_at=self.now() + self.config.token_ttl,
        )
        self._tokens[token.value] = token
        return token

    def issue_token(self, appid: str | None, secret: str | None, grant_type: str | None) -> dict:
        """/cgi-bin/token: every new token revokes the previous basic token of that app."""
        appid = self._check_app(appid, secret, grant_type)
        with self._lock:
            for old in self._tokens.values():
                if old.appid == appid and old.kind == "basic":
                    old.revoked = True
            token = self._new_token(appid, "basic")
        return {"access_token": token.value, "expires_in": self.config.token_ttl}

    def stable_token(self, body: Mapping[str, Any]) -> dict:
        """/cgi-bin/stable_token: isolated from basic tokens; same token until near expiry."""
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            raise WeChatError(47001)
        appid = self._check_app(body.get("appid"), body.get("secret"), body.get("grant_type"))
        with self._lock:
            now = self.now()
            current = self._stable.get(appid)
            live = current is not None and not current.revoked and current.expires_at > now
            if current is not None and live:
                recent_force = now - self._last_force.get(appid, float("-inf"))
                keep = (not force and current.expires_at - now > STABLE_RENEW_AHEAD) or (
                    force and recent_force < FORCE_REFRESH_INTERVAL
                )
                if keep:
                    remaining = int(current.expires_at - now)
                    return {"access_token": current.value, "expires_in": remaining}
            if force:
                day = int(now // 86400)
                if self._force_count.get((appid, day), 0) >= FORCE_REFRESH_DAILY:
                    raise WeChatError(45009)
                self._force_count[(appid, day)] = self._force_count.get((appid, day), 0) + 1
                self._last_force[appid] = now
                if current is not None:
                    current.revoked = True
            # Without force, the outgoing token stays valid until its own expiry (overlap).
            token = self._new_token(appid, "stable")
            self._stable[appid] = token
        return {"access_token": token.value, "expires_in": self.config.token_ttl}

    def authenticate(self, access_token: str | None, allowed: frozenset[str] | None) -> str:
        """Return the appid behind a token, or raise the error WeChat would return."""
        if not access_token:
            raise WeChatError(41001)
        with self._lock:
            token = self._tokens.get(access_token)
            if token is None or token.revoked:
                raise WeChatError(40001)
            if token.expires_at <= self.now():
                raise WeChatError(42001)
        if allowed is not None and token.appid not in allowed:
            raise WeChatError(48001)
        return token.appid

    def expire_tokens(self, appid: str | None = None) -> int:
        with self._lock:
            now = self.now()
            hit = [t for t in self._tokens.values() if appid in (None, t.appid)]
            for token in hit:
                token.expires_at = min(token.expires_at, now)
        return len(hit)

    # ---- users ---------------------------------------------------------------------

    def _user_for(self, appid: str, openid: object) -> User:
        user = self._users.get(openid) if isinstance(openid, str) else None
        if user is None or user.appid != appid:
            raise WeChatError(40003)
        return user

    def _get_or_create_user(self, openid: str | None, appid: str, unionid: str | None) -> User:
        if appid not in self.config.apps:
            raise ControlError(f"unknown appid {appid!r}")
        openid = openid or new_openid()
        user = self._users.get(openid)
        if user is None:
            user = User(openid=openid, appid=appid, unionid=unionid or new_openid())
            self._users[openid] = user
        elif user.appid != appid:
            raise ControlError(f"openid {openid} belongs to {user.appid}, not {appid}")
        elif unionid:
            user.unionid = unionid
        return user

    def user(self, openid: str) -> dict | None:
        with self._lock:
            user = self._users.get(openid)
            return asdict(user) if user else None

    def update_user(self, openid: str, changes: Mapping[str, Any]) -> dict:
        """Control endpoint: create a user or change what WeChat knows about them."""
        allowed = {"appid", "unionid", "subscribed", "blocked", "rate_limited",
                   "last_interaction", "accept", "subscriptions"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ControlError(f"unknown user fields: {', '.join(unknown)}")
        for key in ("appid", "unionid"):
            if key in changes and not (isinstance(changes[key], str) and changes[key]):
                raise ControlError(f"{key} must be a non-empty string")
        for flag in ("subscribed", "blocked", "rate_limited"):
            if flag in changes and not isinstance(changes[flag], bool):
                raise ControlError(f"{flag} must be true or false")
        last = changes.get("last_interaction")
        if last is not None and (isinstance(last, bool) or not isinstance(last, int | float)):
            raise ControlError("last_interaction must be epoch seconds or null")
        accept = changes.get("accept", [])
        if not isinstance(accept, list) or not all(isinstance(t, str) and t for t in accept):
            raise ControlError("accept must be a list of template ids")
        subs = changes.get("subscriptions", {})
        if not isinstance(subs, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in subs.items()
        ):
            raise ControlError("subscriptions must map template ids to counts >= 0")
        with self._lock:
            existing = self._users.get(openid)
            default_appid = existing.appid if existing else self.config.wechat_appid
            appid = changes.get("appid") or default_appid
            user = self._get_or_create_user(openid, appid, changes.get("unionid"))
            for flag in ("subscribed", "blocked", "rate_limited"):
                if flag in changes:
                    setattr(user, flag, changes[flag])
            if "last_interaction" in changes:
                user.last_interaction = last
                user.sent_since_interaction = 0
            user.subscriptions.update(subs)
            for template_id in accept:
                user.subscriptions[template_id] = user.subscriptions.get(template_id, 0) + 1
            return asdict(user)

    # ---- mini-program login and phone numbers -----------------------------------------

    def login_code(self, openid: str | None, appid: str | None, unionid: str | None) -> dict:
        """What wx.login() gives the mini-program: a one-time code bound to app and user."""
        if appid not in (None, self.config.miniapp_appid):
            raise ControlError(f"{appid!r} is not the mini-program appid (wx.login is mini-only)")
        with self._lock:
            user = self._get_or_create_user(openid, appid or self.config.miniapp_appid, unionid)
            code = OneTimeCode(code=secrets.token_hex(16), appid=user.appid,
                               issued_at=self.now(), openid=user.openid)
            self._login_codes[code.code] = code
            return {"code": code.code, "openid": user.openid, "appid": user.appid,
                    "unionid": user.unionid}

    def code_to_session(self, args: Mapping[str, str]) -> dict:
        """/sns/jscode2session."""
        appid, secret, js_code = args.get("appid"), args.get("secret"), args.get("js_code")
        if not appid:
            raise WeChatError(41002)
        if not secret:
            raise WeChatError(41004)
        if not js_code:
            raise WeChatError(41008)
        if appid != self.config.miniapp_appid:
            raise WeChatError(40013)
        if not _same_secret(self.config.miniapp_secret, secret):
            raise WeChatError(40125)
        if args.get("grant_type") != "authorization_code":
            raise WeChatError(40002)
        with self._lock:
            code = self._login_codes.get(js_code)
            if code is None or code.appid != appid or self._expired(code):
                raise WeChatError(40029)
            if code.used:
                raise WeChatError(40163)
            user = self._users[code.openid or ""]
            # Refused calls leave the code unused so a retry after the block lifts works.
            if user.blocked:
                raise WeChatError(40226)
            if user.rate_limited:
                raise WeChatError(45011)
            code.used = True
            user.session_key = base64.b64encode(secrets.token_bytes(16)).decode()
            return {"session_key": user.session_key, "openid": user.openid,
                    "unionid": user.unionid}

    # ---- official-account web authorisation (网页授权, snsapi_base) ---------------------

    def oauth_code(self, openid: str | None) -> dict:
        """What WeChat's authorize page hands the redirect_uri: a one-time code for an
        official-account user (a follower or not), valid 5 minutes."""
        with self._lock:
            user = self._get_or_create_user(openid, self.config.wechat_appid, None)
            code = OneTimeCode(code=secrets.token_urlsafe(24), appid=user.appid,
                               issued_at=self.now(), openid=user.openid)
            self._oauth_codes[code.code] = code
            return {"code": code.code, "openid": user.openid, "appid": user.appid}

    def oauth_access_token(self, args: Mapping[str, str]) -> dict:
        """/sns/oauth2/access_token: each code once; snsapi_base gives the openid only
        (WeChat returns unionid for snsapi_userinfo alone)."""
        appid, secret, code_value = args.get("appid"), args.get("secret"), args.get("code")
        if not appid:
            raise WeChatError(41002)
        if not secret:
            raise WeChatError(41004)
        if not code_value:
            raise WeChatError(41008)
        if appid != self.config.wechat_appid:
            raise WeChatError(40013)
        if not _same_secret(self.config.wechat_secret, secret):
            raise WeChatError(40125)
        if args.get("grant_type") != "authorization_code":
            raise WeChatError(40002)
        with self._lock:
            code = self._oauth_codes.get(code_value)
            if code is None or code.appid != appid or self._expired(code):
                raise WeChatError(40029)
            if code.used:
                raise WeChatError(40163)
            code.used = True
            return {"access_token": secrets.token_urlsafe(48), "expires_in": 7200,
                    "refresh_token": secrets.token_urlsafe(48), "openid": code.openid,
                    "scope": "snsapi_base"}

    def _expired(self, code: OneTimeCode) -> bool:
        return self.now() - code.issued_at > self.config.code_ttl

    def phone_code(self, phone: object, country_code: object, appid: object,
                   openid: object) -> dict:
        """What the getPhoneNumber button gives the mini-program."""
        if not isinstance(phone, str) or not phone.isdigit():
            raise ControlError("phone must be a string of digits")
        if not isinstance(country_code, str) or not country_code.isdigit():
            raise ControlError("country_code must be a string of digits")
        if openid is not None and not isinstance(openid, str):
            raise ControlError("openid must be a string")
        appid = appid or self.config.miniapp_appid
        if appid != self.config.miniapp_appid:
            raise ControlError(f"{appid!r} is not the mini-program appid")
        with self._lock:
            code = OneTimeCode(code=secrets.token_hex(32), appid=appid, issued_at=self.now(),
                               openid=openid, phone=phone, country_code=country_code)
            self._phone_codes[code.code] = code
            return {"code": code.code}

    def phone_number(self, appid: str, body: Mapping[str, Any]) -> dict:
        """/wxa/business/getuserphonenumber: each code once, within 5 minutes."""
        value = body.get("code")
        if not value:
            raise WeChatError(41008)
        with self._lock:
            code = self._phone_codes.get(value) if isinstance(value, str) else None
            if code is None or code.appid != appid or code.used or self._expired(code):
                raise WeChatError(40029)
            openid = body.get("openid")
            if openid and code.openid and openid != code.openid:
                raise WeChatError(40029)
            code.used = True
        pure, cc = code.phone or "", code.country_code or "86"
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": pure if cc == "86" else f"+{cc}{pure}",
                "purePhoneNumber": pure,
                "countryCode": cc,
                "watermark": {"timestamp": int(code.issued_at), "appid": appid},
            },
        }

    # ---- face verification (人脸核身 2.0) ------------------------------------------------

    def face_verify_id(self, appid: str, body: Mapping[str, Any]) -> dict:
        """/cityservice/face/identify/getverifyid."""
        out_seq_no, cert, openid = body.get("out_seq_no"), body.get("cert_info"), body.get(
            "openid")
        if not isinstance(out_seq_no, str) or not _SEQ_NO.fullmatch(out_seq_no):
            raise WeChatError(47003, "out_seq_no must be 5-32 of [0-9A-Za-z_-]")
        if not isinstance(cert, dict) or not all(
            isinstance(cert.get(k), str) and cert.get(k) for k in _CERT_FIELDS
        ):
            raise WeChatError(47001, "cert_info needs cert_type, cert_name, cert_no")
        if cert["cert_type"] != "IDENTITY_CARD":
            raise WeChatError(47003, "cert_type must be IDENTITY_CARD")
        with self._lock:
            user = self._user_for(appid, openid)
            if out_seq_no in self._face_seq_nos:
                raise WeChatError(47003, "out_seq_no already used")
            self._face_seq_nos.add(out_seq_no)
            session = FaceSession(
                verify_id=secrets.token_urlsafe(48), appid=appid, openid=user.openid,
                out_seq_no=out_seq_no,
                cert_hash=face_cert_hash(*(cert[k] for k in _CERT_FIELDS)),
                expires_at=self.now() + FACE_VERIFY_TTL,
            )
            self._faces[session.verify_id] = session
        return {"errcode": 0, "errmsg": "ok", "verify_id": session.verify_id,
                "expires_in": FACE_VERIFY_TTL}

    def face_performed(self, verify_id: object, verify_ret: object) -> dict:
        """What wx.requestFacialVerify does on the phone: the user shows their face; WeChat
        compares it with the national identity database (10000: the holder; 10004 ...: not)."""
        if not isinstance(verify_ret, int) or isinstance(verify_ret, bool):
            raise ControlError("verify_ret must be an integer (10000: the ID's holder)")
        with self._lock:
            session = self._faces.get(verify_id) if isinstance(verify_id, str) else None
            if session is None:
                raise ControlError("unknown verify_id")
            if self.now() > session.expires_at:
                raise ControlError("verify_id expired")
            session.verify_ret = verify_ret
        return {"errcode": 0}

    def face_verify_info(self, appid: str, body: Mapping[str, Any]) -> dict:
        """/cityservice/face/identify/queryverifyinfo: the result, only to the caller that
        names the same verify_id, out_seq_no, cert_hash and openid (else an errcode, never
        a verify_ret, as WeChat does against tampered identity data)."""
        fields = [body.get(k) for k in ("verify_id", "out_seq_no", "cert_hash", "openid")]
        if not all(isinstance(f, str) and f for f in fields):
            raise WeChatError(47001, "verify_id, out_seq_no, cert_hash and openid are required")
        verify_id, out_seq_no, cert_hash, openid = fields
        with self._lock:
            session = self._faces.get(verify_id)
            if session is None or session.appid != appid:
                raise WeChatError(47003, "invalid verify_id")
            if session.openid != openid:
                raise WeChatError(40003)
            if session.out_seq_no != out_seq_no or session.cert_hash != cert_hash:
                raise WeChatError(47003, "out_seq_no or cert_hash does not match")
            verify_ret = session.verify_ret if session.verify_ret is not None else FACE_NOT_DONE
        return {"errcode": 0, "errmsg": "ok", "verify_ret": verify_ret}

    # ---- content security --------------------------------------------------------------

    def msg_sec_check(self, appid: str, body: Mapping[str, Any]) -> dict:
        """/wxa/msg_sec_check, version 2 (and the retired version 1 wechatpy still sends)."""
        content = body.get("content")
        if not isinstance(content, str):
            raise WeChatError(47001)
        with self._lock:
            hits = [(w, label) for w, label in self.risky_words.items() if w in content]
            if body.get("version") != 2:
                if hits:
                    raise WeChatError(87014)
                return {"errcode": 0, "errmsg": "ok"}
            self._user_for(appid, body.get("openid"))
        if body.get("scene") not in SEC_CHECK_SCENES:
            raise WeChatError(40129)
        label = hits[0][1] if hits else 100
        suggest = "risky" if hits else "pass"
        detail: list[dict[str, Any]] = [
            {"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label,
             "prob": 90}
        ]
        detail += [
            {"strategy": "keyword", "errcode": 0, "suggest": "risky", "label": lab, "level": 20,
             "keyword": word}
            for word, lab in hits
        ] or [{"strategy": "keyword", "errcode": 0}]
        return {"errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": label},
                "detail": detail, "trace_id": rid()}

    # ---- media ---------------------------------------------------------------------------

    def upload_media(self, appid: str, media_type: str | None, content_type: str | None,
                     data: bytes | None) -> dict:
        """/cgi-bin/media/upload (temporary media)."""
        if media_type not in MEDIA_LIMITS:
            raise WeChatError(40004)
        if not data:
            raise WeChatError(41005)
        if len(data) > MEDIA_LIMITS[media_type]:
            raise WeChatError(40006)
        with self._lock:
            media = Media(media_id=secrets.token_urlsafe(48), appid=appid, type=media_type,
                          data=data, content_type=content_type or "application/octet-stream",
                          created_at=int(self.now()))
            self._media[media.media_id] = media
        key = "thumb_media_id" if media_type == "thumb" else "media_id"
        return {"type": media_type, key: media.media_id, "created_at": media.created_at}

    def media(self, media_id: str) -> Media | None:
        with self._lock:
            return self._media.get(media_id)

    def media_usable(self, appid: str, media_id: object) -> bool:
        with self._lock:
            media = self._media.get(media_id) if isinstance(media_id, str) else None
            return (media is not None and media.appid == appid
                    and self.now() - media.created_at <= MEDIA_TTL)

    # ---- outbound messages ---------------------------------------------------------------

    def _check_custom_payload(self, appid: str, msgtype: str, payload: object) -> None:
        if not isinstance(payload, dict):
            raise WeChatError(47001, f"{msgtype} must be an object")
        if msgtype == "text" and not (isinstance(payload.get("content"), str)
                                      and payload["content"].strip()):
            raise WeChatError(44004)
        if msgtype == "image" and not self.media_usable(appid, payload.get("media_id")):
            raise WeChatError(40007)
        if msgtype == "news":
            articles = payload.get("articles")
            if not isinstance(articles, list) or not articles:
                raise WeChatError(47001, "news.articles must be a non-empty list")
            if len(articles) > 1:  # WeChat allows a single article in customer-service news
                raise WeChatError(45008)
        if msgtype == "miniprogrampage":
            if not payload.get("title") or not payload.get("pagepath"):
                raise WeChatError(47001, "miniprogrampage needs title and pagepath")
            if not self.media_usable(appid, payload.get("thumb_media_id")):
                raise WeChatError(40007)

    def send_custom(self, appid: str, body: Mapping[str, Any]) -> dict:
        """/cgi-bin/message/custom/send: the 48-hour window and 5-message rule."""
        with self._lock:
            user = self._user_for(appid, body.get("touser"))
            msgtype = body.get("msgtype")
            if msgtype not in CUSTOM_MSGTYPES:
                raise WeChatError(40008)
            self._check_custom_payload(appid, msgtype, body.get(msgtype))
            now = self.now()
            unsubscribed = appid == self.config.wechat_appid and not user.subscribed
            if (unsubscribed or user.last_interaction is None
                    or now - user.last_interaction > CS_WINDOW_SECONDS):
                raise WeChatError(45015)
            if user.sent_since_interaction >= CS_MESSAGE_LIMIT:
                raise WeChatError(45047)
            user.sent_since_interaction += 1
            self._deliver("custom", appid, user.openid, msgtype, body)
        return {"errcode": 0, "errmsg": "ok"}

    def send_subscribe(self, appid: str, body: Mapping[str, Any]) -> dict:
        """/cgi-bin/message/subscribe/send: each accepted subscription allows one message."""
        with self._lock:
            user = self._user_for(appid, body.get("touser"))
            template_id = body.get("template_id")
            if not isinstance(template_id, str) or not template_id:
                raise WeChatError(40037)
            data = body.get("data")
            if not isinstance(data, dict) or not data:
                raise WeChatError(47003, "data is empty")
            for key, item in data.items():
                if not isinstance(item, dict) or not isinstance(item.get("value"), str | int):
                    raise WeChatError(47003, f"data.{key}.value is empty")
            if user.subscriptions.get(template_id, 0) <= 0:
                raise WeChatError(43101)
            user.subscriptions[template_id] -= 1
            self._deliver("subscribe", appid, user.openid, "subscribe", body)
        return {"errcode": 0, "errmsg": "ok"}

    def _deliver(self, kind: str, appid: str, touser: str, msgtype: str,
                 body: Mapping[str, Any]) -> None:
        self._messages.append({"id": next(self._message_ids), "kind": kind, "appid": appid,
                               "touser": touser, "msgtype": msgtype, "body": dict(body),
                               "time": self.now()})

    def messages(self, touser: str | None, since_id: int) -> list[dict]:
        with self._lock:
            return [m for m in self._messages
                    if m["id"] > since_id and touser in (None, m["touser"])]

    # ---- the callback side -------------------------------------------------------------

    def record_inbound(self, openid: str, msg_type: str, event: str | None) -> bool:
        """Note a user's message/event to the official account; True if it opened the window."""
        with self._lock:
            user = self._get_or_create_user(openid, self.config.wechat_appid, None)
            if msg_type == "event" and event in ("subscribe", "unsubscribe"):
                user.subscribed = event == "subscribe"
            interactive = msg_type != "event" or event in INTERACTIVE_EVENTS
            if interactive:
                user.last_interaction = self.now()
                user.sent_since_interaction = 0
            return interactive

    def remember_envelope(self, nonce: str, envelope: Envelope) -> None:
        with self._lock:
            self._envelopes[nonce] = envelope

    def envelope(self, nonce: str | None) -> Envelope | None:
        with self._lock:
            return self._envelopes.get(nonce or "")

    # ---- faults and call log -------------------------------------------------------------

    def set_fault(self, path: str, fault: Fault) -> None:
        with self._lock:
            if fault.remaining > 0:
                self._faults[path] = fault
            else:
                self._faults.pop(path, None)

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get(path)
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[path]
            return fault

    def faults(self) -> dict[str, dict]:
        with self._lock:
            return {path: asdict(fault) for path, fault in self._faults.items()}

    def record_call(self, method: str, path: str, query: dict, body: object) -> dict:
        with self._lock:
            call = {"id": next(self._call_ids), "time": self.now(), "method": method,
                    "path": path, "query": query, "body": body, "errcode": None, "status": None}
            self._calls.append(call)
            return call

    def finish_call(self, call: dict, errcode: int | None, status: int) -> None:
        with self._lock:
            call["errcode"] = errcode
            call["status"] = status

    def calls(self, path: str | None, since: int) -> list[dict]:
        with self._lock:
            return [dict(c) for c in self._calls
                    if c["id"] > since and path in (None, c["path"])]
