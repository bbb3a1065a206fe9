"""The API's own sign-in tokens: short-lived signed access tokens, revocable refresh tokens.

Access token: a JWT (HS256, key ``API_TOKEN_KEY``; development derives one, huimin/platform/keys.py)
carrying the principal kind and account id (``sub``), an audience per kind, the role set and the
session id; lifetime ``API_ACCESS_TOKEN_TTL``. Every use also checks the session in Redis: it
must still exist (so logout, account deletion and staff deactivation take effect at once) and
it must be the session of that very subject, audience and role set. The signature alone proves
nothing about who signed in: whoever learns the signing key could otherwise keep their own
session id and mint a token for any citizen or for ``staff:1``. A staff session is written
only by ``issue_staff`` after the staff sign-in (password, TOTP) succeeded.

Refresh token: ``<session id>.<generation>.<secret>``, opaque to clients. Redis keeps, per
session ("family"), the generation and a hash of the current secret; each refresh rotates the
secret. Presenting a genuine older generation (its secret's hash is kept for the last
``SPENT_KEPT`` rotations) means the token was copied: the whole family is revoked. A wrong
secret with a known session id is only refused: it cannot end someone else's session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from huimin.platform.keys import Purpose, purpose_key
from huimin.platform.settings import Settings

CITIZEN = "citizen"
STAFF = "staff"
KINDS = (CITIZEN, STAFF)

ISSUER = "huimin"
# One audience per principal kind: a citizen token is never accepted where a staff one is.
AUDIENCES = {CITIZEN: "huimin-api:citizen", STAFF: "huimin-api:staff"}
ALGORITHM = "HS256"
# How a session was started; a staff token needs a session of STAFF_SIGN_IN.
CITIZEN_SIGN_IN = "wechat"
STAFF_SIGN_IN = "staff-sign-in"
_ORIGINS = {CITIZEN: CITIZEN_SIGN_IN, STAFF: STAFF_SIGN_IN}
_PREFIX = "huimin:auth:"
# Hashes of this many spent refresh secrets are kept to tell a copied token from a guess.
SPENT_KEPT = 20


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
    # The roles the session was started with (staff: at sign-in); never more than that.
    roles: frozenset[str] = frozenset()


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


def signing_key(settings: Settings) -> bytes:
    """The access tokens' HMAC key (its own secret: huimin/platform/keys.py)."""
    return purpose_key(settings, Purpose.API_TOKEN)


def _role_text(roles: frozenset[str]) -> str:
    return ",".join(sorted(roles))


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
        self._key = OctKey.import_key(signing_key(settings))

    # ---- keys ------------------------------------------------------------------------------

    @staticmethod
    def _family_key(session_id: str) -> str:
        return f"{_PREFIX}family:{session_id}"

    @staticmethod
    def _subject_key(kind: str, subject_id: int) -> str:
        return f"{_PREFIX}subject:{kind}:{subject_id}"

    # ---- issuing ---------------------------------------------------------------------------

    def _access_token(
        self, kind: str, subject_id: int, session_id: str, roles: frozenset[str]
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCES[kind],
            "sub": f"{kind}:{subject_id}",
            "sid": session_id,
            "roles": sorted(roles),
            "iat": now,
            "exp": now + self.access_ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode({"alg": ALGORITHM}, claims, self._key, algorithms=[ALGORITHM])

    def issue(self, kind: str, subject_id: int) -> TokenPair:
        """Start a new citizen session (refresh-token family) after the WeChat sign-in.

        Staff sessions come only from ``issue_staff``, called by the staff sign-in.
        """
        if kind == STAFF:
            raise ValueError("staff sessions are started by the staff sign-in: issue_staff()")
        if kind not in KINDS:
            raise ValueError(f"unknown principal kind {kind!r}")
        return self._start(CITIZEN, subject_id, frozenset({CITIZEN}))

    def issue_staff(self, subject_id: int, roles: Iterable[str]) -> TokenPair:
        """Start a staff session with the roles the account had at sign-in (password, TOTP)."""
        role_set = frozenset(roles)
        if not role_set or CITIZEN in role_set:
            raise ValueError("a staff session needs staff roles")
        return self._start(STAFF, subject_id, role_set)

    def _start(self, kind: str, subject_id: int, roles: frozenset[str]) -> TokenPair:
        session_id = secrets.token_hex(16)
        secret = secrets.token_urlsafe(32)
        ttl = self.refresh_ttl[kind]
        pipe = self.conn.pipeline()
        pipe.hset(
            self._family_key(session_id),
            mapping={"kind": kind, "sub": subject_id, "aud": AUDIENCES[kind],
                     "roles": _role_text(roles), "origin": _ORIGINS[kind],
                     "gen": 1, "hash": _digest(secret)},
        )
        pipe.expire(self._family_key(session_id), ttl)
        pipe.sadd(self._subject_key(kind, subject_id), session_id)
        pipe.expire(self._subject_key(kind, subject_id), ttl)
        pipe.execute()
        return TokenPair(
            access_token=self._access_token(kind, subject_id, session_id, roles),
            expires_in=self.access_ttl,
            refresh_token=f"{session_id}.1.{secret}",
            refresh_expires_in=ttl,
            session_id=session_id,
        )

    # ---- verifying -------------------------------------------------------------------------

    def verify_access(self, token: str) -> AccessClaims:
        """Check signature, issuer, expiry, and that the session in Redis still exists and
        belongs to this token's subject, audience and role set."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER},
                aud={"essential": True, "values": list(AUDIENCES.values())},
                exp={"essential": True},
                sub={"essential": True},
                sid={"essential": True},
                roles={"essential": True},
                leeway=5,
            ).validate(decoded.claims)
        except JoseError as exc:
            reason = "expired" if exc.error == "expired_token" else "invalid"
            raise TokenError(reason) from None
        except (ValueError, TypeError):
            raise TokenError("invalid") from None
        claims = decoded.claims
        kind, _, raw_id = str(claims["sub"]).partition(":")
        roles = claims["roles"]
        if (kind not in KINDS or not raw_id.isdigit() or claims["aud"] != AUDIENCES[kind]
                or not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)):
            raise TokenError("invalid")
        session_id = str(claims["sid"])
        stored = self.conn.hmget(
            self._family_key(session_id), ["kind", "sub", "aud", "roles", "origin"]
        )
        if stored[0] is None:
            raise TokenError("revoked")
        s_kind, s_sub, s_aud, s_roles, s_origin = (v.decode() if v else "" for v in stored)
        role_set = frozenset(roles)
        if (s_kind, s_sub, s_aud, s_roles, s_origin) != (
            kind, raw_id, AUDIENCES[kind], _role_text(role_set), _ORIGINS[kind]
        ):
            # A valid signature on someone else's session: a forged token (leaked key).
            raise TokenError("invalid")
        return AccessClaims(kind=kind, subject_id=int(raw_id), session_id=session_id,
                            roles=role_set)

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
                presented = _digest(secret)
                if generation != current or not hmac.compare_digest(family["hash"], presented):
                    pipe.unwatch()
                    spent = family.get(f"spent:{generation}")
                    if generation < current and spent and hmac.compare_digest(spent, presented):
                        # A genuine token of an older generation: it was copied. End the
                        # session so neither copy works any more.
                        self.revoke_session(session_id)
                        raise TokenError("reused")
                    # A guessed secret for a known session id proves nothing: refusing it
                    # must not end the real holder's session (that would be a cheap DoS).
                    raise TokenError("invalid")
                kind, subject_id = family["kind"], int(family["sub"])
                roles = frozenset(r for r in family.get("roles", "").split(",") if r)
                new_secret = secrets.token_urlsafe(32)
                ttl = self.refresh_ttl[kind]
                pipe.multi()
                pipe.hset(key, mapping={"gen": current + 1, "hash": _digest(new_secret),
                                        f"spent:{current}": family["hash"]})
                pipe.hdel(key, f"spent:{current - SPENT_KEPT}")
                pipe.expire(key, ttl)
                pipe.expire(self._subject_key(kind, subject_id), ttl)
                pipe.execute()
            except redis.WatchError:
                # A concurrent refresh spent this token first: treat it as reuse.
                self.revoke_session(session_id)
                raise TokenError("reused") from None
        claims = AccessClaims(kind=kind, subject_id=subject_id, session_id=session_id,
                              roles=roles)
        pair = TokenPair(
            access_token=self._access_token(kind, subject_id, session_id, roles),
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
