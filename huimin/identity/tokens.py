"""The API's own sign-in tokens: short-lived signed access tokens, revocable refresh tokens.

Access token: a JWT (HS256, key ``API_TOKEN_KEY`` or derived from ``SECRET_KEY``) carrying only
the principal kind, its account id and the session id; lifetime ``API_ACCESS_TOKEN_TTL``.
Every use also checks that the session still exists in Redis, so logout, account deletion and
staff deactivation take effect at once rather than when the token expires.

Refresh token: ``<session id>.<generation>.<secret>``, opaque to clients. Redis keeps, per
session ("family"), the generation and a hash of the current secret; each refresh rotates the
secret. Presenting an old generation means the token was copied: the whole family is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import redis
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from huimin.platform.settings import Settings

CITIZEN = "citizen"
STAFF = "staff"
KINDS = (CITIZEN, STAFF)

ISSUER = "huimin"
AUDIENCE = "huimin-api"
ALGORITHM = "HS256"
DEV_SECRET_KEY = "dev-only-change-me"
_PREFIX = "huimin:auth:"


class TokenError(Exception):
    """A token was refused; ``reason`` is one of invalid, expired, revoked, reused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccessClaims:
    kind: str
    subject_id: int
    session_id: str


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str

    def as_response(self) -> dict:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": self.refresh_expires_in,
        }


def _signing_key(settings: Settings) -> bytes:
    if settings.api_token_key.strip():
        return settings.api_token_key.strip().encode()
    if settings.is_production and settings.secret_key == DEV_SECRET_KEY:
        raise ValueError("set API_TOKEN_KEY or a real SECRET_KEY when HUIMIN_ENV=production")
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"huimin-api-token", info=b"access token v1"
    ).derive(settings.secret_key.encode())


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenService:
    """Issues, verifies, rotates and revokes tokens; state lives in Redis."""

    def __init__(self, settings: Settings, conn: redis.Redis) -> None:
        self.conn = conn
        self.access_ttl = settings.api_access_token_ttl
        self.refresh_ttl = {
            CITIZEN: settings.api_refresh_token_ttl,
            STAFF: settings.api_staff_refresh_token_ttl,
        }
        self._key = OctKey.import_key(_signing_key(settings))

    # ---- keys ------------------------------------------------------------------------------

    @staticmethod
    def _family_key(session_id: str) -> str:
        return f"{_PREFIX}family:{session_id}"

    @staticmethod
    def _subject_key(kind: str, subject_id: int) -> str:
        return f"{_PREFIX}subject:{kind}:{subject_id}"

    # ---- issuing ---------------------------------------------------------------------------

    def _access_token(self, kind: str, subject_id: int, session_id: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"{kind}:{subject_id}",
            "sid": session_id,
            "iat": now,
            "exp": now + self.access_ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode({"alg": ALGORITHM}, claims, self._key, algorithms=[ALGORITHM])

    def issue(self, kind: str, subject_id: int) -> TokenPair:
        """Start a new session (refresh-token family) for the account."""
        if kind not in KINDS:
            raise ValueError(f"unknown principal kind {kind!r}")
        session_id = secrets.token_hex(16)
        secret = secrets.token_urlsafe(32)
        ttl = self.refresh_ttl[kind]
        pipe = self.conn.pipeline()
        pipe.hset(
            self._family_key(session_id),
            mapping={"kind": kind, "sub": subject_id, "gen": 1, "hash": _digest(secret)},
        )
        pipe.expire(self._family_key(session_id), ttl)
        pipe.sadd(self._subject_key(kind, subject_id), session_id)
        pipe.expire(self._subject_key(kind, subject_id), ttl)
        pipe.execute()
        return TokenPair(
            access_token=self._access_token(kind, subject_id, session_id),
            expires_in=self.access_ttl,
            refresh_token=f"{session_id}.1.{secret}",
            refresh_expires_in=ttl,
            session_id=session_id,
        )

    # ---- verifying -------------------------------------------------------------------------

    def verify_access(self, token: str) -> AccessClaims:
        """Check signature, issuer, audience, expiry and that the session was not revoked."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER},
                aud={"essential": True, "value": AUDIENCE},
                exp={"essential": True},
                sub={"essential": True},
                sid={"essential": True},
                leeway=5,
            ).validate(decoded.claims)
        except JoseError as exc:
            reason = "expired" if exc.error == "expired_token" else "invalid"
            raise TokenError(reason) from None
        except (ValueError, TypeError):
            raise TokenError("invalid") from None
        kind, _, raw_id = str(decoded.claims["sub"]).partition(":")
        if kind not in KINDS or not raw_id.isdigit():
            raise TokenError("invalid")
        session_id = str(decoded.claims["sid"])
        if not self.conn.exists(self._family_key(session_id)):
            raise TokenError("revoked")
        return AccessClaims(kind=kind, subject_id=int(raw_id), session_id=session_id)

    def refresh(self, refresh_token: str) -> tuple[AccessClaims, TokenPair]:
        """Rotate: the presented token is spent; an already spent one revokes the family."""
        session_id, generation, secret = _parse_refresh(refresh_token)
        key = self._family_key(session_id)
        with self.conn.pipeline() as pipe:
            try:
                pipe.watch(key)
                family = {k.decode(): v.decode() for k, v in pipe.hgetall(key).items()}
                if not family:
                    raise TokenError("invalid")
                current = int(family["gen"])
                if generation != current or not hmac.compare_digest(
                    family["hash"], _digest(secret)
                ):
                    pipe.unwatch()
                    # An older generation (or a forged secret for a live session): the token
                    # leaked; end the session so neither copy works any more.
                    self.revoke_session(session_id)
                    raise TokenError("reused")
                kind, subject_id = family["kind"], int(family["sub"])
                new_secret = secrets.token_urlsafe(32)
                ttl = self.refresh_ttl[kind]
                pipe.multi()
                pipe.hset(key, mapping={"gen": current + 1, "hash": _digest(new_secret)})
                pipe.expire(key, ttl)
                pipe.expire(self._subject_key(kind, subject_id), ttl)
                pipe.execute()
            except redis.WatchError:
                # A concurrent refresh spent this token first: treat it as reuse.
                self.revoke_session(session_id)
                raise TokenError("reused") from None
        claims = AccessClaims(kind=kind, subject_id=subject_id, session_id=session_id)
        pair = TokenPair(
            access_token=self._access_token(kind, subject_id, session_id),
            expires_in=self.access_ttl,
            refresh_token=f"{session_id}.{current + 1}.{new_secret}",
            refresh_expires_in=ttl,
            session_id=session_id,
        )
        return claims, pair

    # ---- revoking --------------------------------------------------------------------------

    def revoke_session(self, session_id: str) -> None:
        key = self._family_key(session_id)
        family = self.conn.hmget(key, ["kind", "sub"])
        self.conn.delete(key)
        if family[0] and family[1]:
            self.conn.srem(
                self._subject_key(family[0].decode(), int(family[1])), session_id
            )

    def revoke_subject(self, kind: str, subject_id: int) -> int:
        """End every session of an account (deletion, deactivation, password reset)."""
        subject_key = self._subject_key(kind, subject_id)
        sessions = [s.decode() for s in self.conn.smembers(subject_key)]
        if sessions:
            self.conn.delete(*(self._family_key(s) for s in sessions))
        self.conn.delete(subject_key)
        return len(sessions)


def _parse_refresh(token: str) -> tuple[str, int, str]:
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[0]) != 32:
        raise TokenError("invalid")
    try:
        int(parts[0], 16)
    except ValueError:
        raise TokenError("invalid") from None
    return parts[0], int(parts[1]), parts[2]
