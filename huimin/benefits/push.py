"""Telling a resident about a notice: channel choice, opt-out, rate limits, exactly once.

Channels, in order: a mini-program subscribe message (needs the citizen's subscription to
the template; WeChat answers 43101 otherwise), then a customer-service message on the
official account (only within 48 hours of the citizen's last message: 45015 otherwise).
With no WeChat channel, or when WeChat refuses both, the notice goes on the grid worker's
worklist of the resident's grid. A resident who opted out (`push_opt_out`, or a withdrawn
`benefit_push` consent) gets nothing pushed; the notice stays visible in the mini-program.

Never twice: a push first claims the notice (delivery `sending`) in a committed
transaction, then calls WeChat, then records the outcome. A second job for the same notice
finds it claimed or delivered and does nothing; a transient WeChat failure releases the
claim and raises `PushRetry` (the job is retried with backoff); a claim left behind by a
worker that died mid-call is never resent over WeChat (the message may have gone out):
the grid worker follows up instead (a job that finds a claim still fresh looks again when it
is stale, so a claim left by a killed worker always reaches the grid worker). The same holds
when WeChat's answer times out: WeChat may have delivered the message, so it is not resent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import redis
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatException

from huimin.benefits.models import (
    GRID_WORKER,
    MATCHED,
    MINIAPP,
    OFFICIAL_ACCOUNT,
    PENDING,
    QUEUED,
    SENDING,
    UNREACHABLE,
    WITHHELD,
    BenefitNotice,
)
from huimin.benefits.notices import aware, mark_notified
from huimin.platform.db import Database, utcnow
from huimin.platform.settings import BenefitSettings
from huimin.privacy import consent
from huimin.residents.models import Resident
from huimin.wechat.api import WeChatApi, WeChatError
from huimin.wechat.models import WechatUser

log = logging.getLogger(__name__)

# WeChat's definite refusals per channel: the message was not delivered and retrying the
# same channel will not help, so the next channel is tried.
REFUSALS: dict[str, dict[int, str]] = {
    MINIAPP: {
        43101: "not subscribed to the template",
        40003: "openid not valid for the mini-program",
    },
    OFFICIAL_ACCOUNT: {
        45015: "outside the 48-hour reply window",
        45047: "too many messages since the citizen last wrote",
        43004: "not following the official account",
        40003: "openid not valid for the official account",
    },
}
STALE_CLAIM = timedelta(minutes=10)  # a send never takes this long: the worker died


class PushRetry(Exception):
    """WeChat failed in a way worth retrying (busy, quota, network); the claim is released."""


@dataclass(frozen=True)
class Outcome:
    """What a push did: `sent`, `worklist`, `withheld`, `unreachable`, `later` or `skipped`."""

    action: str
    delivery: str | None = None
    retry_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True)
class Message:
    """What the resident is told; built from the notice, its rule's amount and the title."""

    notice_id: int
    title: str
    amount_text: str | None

    def subscribe_data(self) -> dict[str, dict[str, str]]:
        # Template fields: thing* at most 20 characters.
        return {
            "thing1": {"value": self.title[:20]},
            "thing2": {"value": (self.amount_text or "以审核结果为准")[:20]},
            "thing3": {"value": "点击查看，一键确认领取"},
        }

    def text(self, pages_url: str | None = None) -> str:
        """The official-account message; with ``pages_url`` it links to the notice on the
        citizen's own page (/my/benefits), where one tap confirms it."""
        amount = f"（{self.amount_text}）" if self.amount_text else ""
        head = f"【政策提醒】根据您的资料，您可能符合“{self.title}”的条件{amount}。"
        if pages_url:
            link = f"{pages_url.rstrip('/')}/my/benefits?notice={self.notice_id}"
            return f'{head}<a href="{link}">点这里一键确认</a>，不用再填表。'
        return head + "请打开小程序“我的提醒”，一键确认即可，不用再填表。"


def amount_text(notice: BenefitNotice) -> str | None:
    parts = []
    if notice.amount is not None:
        parts.append(f"{notice.amount}{notice.amount_unit or ''}")
    if notice.duration is not None:
        parts.append(f"{notice.duration}{notice.duration_unit or ''}")
    return "，".join(parts) or None


def opted_out(session: Session, resident: Resident) -> bool:
    """The resident said no to pushes: the flag, or a `benefit_push` consent withdrawn
    (and not given again). Residents who never answered are told, as a public service."""
    if resident.push_opt_out:
        return True
    records = consent.history(session, resident.id)
    pushes = [c for c in records if c.scope == consent.BENEFIT_PUSH]
    return bool(pushes) and not consent.has_consent(session, resident.id, consent.BENEFIT_PUSH)


def wechat_channels(session: Session, resident: Resident) -> list[tuple[str, str]]:
    """(channel, openid) pairs that might reach the resident, in the order to try them."""
    found: list[tuple[str, str]] = []
    if resident.openid:
        found.append((MINIAPP, resident.openid))
    followers = session.scalars(
        select(WechatUser.openid)
        .where(WechatUser.resident_id == resident.id, WechatUser.subscribed.is_(True))
        .order_by(WechatUser.last_seen_at.desc())
    )
    found.extend((OFFICIAL_ACCOUNT, openid) for openid in followers)
    return found


class PushLimiter:
    """When a push may go out: not in quiet hours, at most N per resident per local day, at
    most M per minute overall. A push that must wait gets its own slot in the future, so
    deferred pushes are spread out instead of all waking at the same moment."""

    def __init__(self, conn: redis.Redis, settings: BenefitSettings) -> None:
        self.conn = conn
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)

    def _slot(self, start: datetime) -> datetime:
        """The next free slot from `start` on: start + n / per_minute minutes."""
        minute = int(start.timestamp() // 60)
        key = f"huimin:benefits:push:deferred:{minute}"
        with self.conn.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, 3 * 86400)
            n = int(pipe.execute()[0]) - 1
        return start + timedelta(seconds=n * 60 / self.settings.pushes_per_minute)

    def _morning(self, local: datetime, days: int) -> datetime:
        day = (local + timedelta(days=days)).date()
        return datetime(day.year, day.month, day.day, self.settings.quiet_end, tzinfo=self.zone)

    def wait_until(self, resident_id: int, now: datetime) -> datetime | None:
        """None: go now (the push is counted). Otherwise the time to try again."""
        s = self.settings
        local = now.astimezone(self.zone)
        if s.quiet(local.hour):
            return self._slot(self._morning(local, 0 if local.hour < s.quiet_end else 1))
        day_key = f"huimin:benefits:push:resident:{resident_id}:{local.date().isoformat()}"
        minute_key = f"huimin:benefits:push:minute:{int(now.timestamp() // 60)}"
        with self.conn.pipeline() as pipe:
            pipe.incr(day_key)
            pipe.expire(day_key, 2 * 86400)
            pipe.incr(minute_key)
            pipe.expire(minute_key, 120)
            day_count, _, minute_count, _ = pipe.execute()
        if int(day_count) > s.pushes_per_resident_per_day:
            self.release(resident_id, now)
            return self._slot(self._morning(local, 1))
        if int(minute_count) > s.pushes_per_minute:
            self.release(resident_id, now)
            next_minute = datetime.fromtimestamp((int(now.timestamp() // 60) + 1) * 60, now.tzinfo)
            return self._slot(next_minute)
        return None

    def release(self, resident_id: int, now: datetime) -> None:
        """Give back a counted push that did not go out."""
        local = now.astimezone(self.zone)
        with self.conn.pipeline() as pipe:
            pipe.decr(f"huimin:benefits:push:resident:{resident_id}:{local.date().isoformat()}")
            pipe.decr(f"huimin:benefits:push:minute:{int(now.timestamp() // 60)}")
            pipe.execute()


class Pusher:
    """Pushes one notice; see the module docstring for the guarantees."""

    def __init__(
        self,
        db: Database,
        limiter: PushLimiter,
        miniapp: WeChatApi,
        official_account: WeChatApi,
        settings: BenefitSettings,
        title: Callable[[str], str],
    ) -> None:
        self.db = db
        self.limiter = limiter
        self.senders: dict[str, Callable[[str, Message], object]] = {
            MINIAPP: lambda openid, m: miniapp.send_subscribe(
                openid, settings.template_id, m.subscribe_data(),
                f"{settings.notice_page}?id={m.notice_id}"),
            OFFICIAL_ACCOUNT: lambda openid, m: official_account.send_text(
                openid, m.text(settings.pages_url)),
        }
        self.title = title

    def push(self, notice_id: int, now: datetime | None = None) -> Outcome:
        now = now or utcnow()
        claimed = self._claim(notice_id, now)
        if isinstance(claimed, Outcome):
            return claimed
        message, channels, resident_id = claimed
        refused: list[str] = []
        for channel, openid in channels:
            try:
                self.senders[channel](openid, message)
            except WeChatError as exc:
                reason = REFUSALS[channel].get(exc.errcode or 0)
                if reason is None:
                    self._release(notice_id, resident_id, now, f"{channel}: WeChat error "
                                  f"{exc.errcode}")
                    raise PushRetry(f"notice {notice_id}: WeChat error {exc.errcode}") from exc
                refused.append(f"{channel}: {exc.errcode} {reason}")
                continue
            except requests.ReadTimeout:
                # WeChat took the request but its answer came too late: the message may have
                # reached the resident, so it is never sent again; the grid worker checks.
                return self._timed_out(notice_id, channel)
            except (requests.RequestException, WeChatException) as exc:
                self._release(notice_id, resident_id, now, f"{channel}: WeChat unreachable")
                raise PushRetry(f"notice {notice_id}: WeChat unreachable") from exc
            return self._finish(notice_id, channel, "; ".join(refused) or None)
        self.limiter.release(resident_id, now)
        return self._fallback(notice_id, "; ".join(refused))

    def _claim(
        self, notice_id: int, now: datetime
    ) -> Outcome | tuple[Message, list[tuple[str, str]], int]:
        with self.db.session() as s:
            notice = s.get(BenefitNotice, notice_id, with_for_update=True)
            if notice is None:
                return Outcome("skipped", note="no such notice")
            if notice.status != MATCHED or notice.delivery not in (PENDING, QUEUED, SENDING):
                return Outcome("skipped", notice.delivery, note=f"already {notice.status}, "
                               f"delivery {notice.delivery}")
            if notice.delivery == SENDING:
                started = aware(notice.push_started_at) if notice.push_started_at else now
                if now - started < STALE_CLAIM:
                    # Looked at again once the claim is stale: if its worker died mid-call
                    # (RQ retries the abandoned job about a minute later, well within
                    # STALE_CLAIM), nothing else would ever move the notice on.
                    return Outcome("later", SENDING, retry_at=started + STALE_CLAIM,
                                   note="another push is in progress")
                return self._to_worklist(s, notice, "an earlier send was interrupted and may "
                                         "have been delivered; not resent")
            resident = s.get(Resident, notice.resident_id)
            if resident is None:
                return Outcome("skipped", note="resident deleted")
            if opted_out(s, resident):
                notice.delivery = WITHHELD
                notice.push_note = "resident opted out of pushes"
                return Outcome("withheld", WITHHELD, note=notice.push_note)
            channels = wechat_channels(s, resident)
            if not channels:
                return self._to_worklist(s, notice, "no WeChat channel")
            later = self.limiter.wait_until(resident.id, now)
            if later is not None:
                notice.delivery = QUEUED
                return Outcome("later", QUEUED, retry_at=later, note="rate limit or quiet hours")
            notice.delivery = SENDING
            notice.push_started_at = now
            message = Message(notice.id, self.title(notice.policy), amount_text(notice))
            return message, channels, resident.id

    @staticmethod
    def _to_worklist(s: Session, notice: BenefitNotice, note: str) -> Outcome:
        resident = s.get(Resident, notice.resident_id)
        notice.delivery = GRID_WORKER if resident and resident.grid_id else UNREACHABLE
        notice.push_started_at = None
        notice.push_note = note
        return Outcome("worklist" if notice.delivery == GRID_WORKER else "unreachable",
                       notice.delivery, note=note)

    def _finish(self, notice_id: int, channel: str, note: str | None) -> Outcome:
        with self.db.session() as s:
            notice = s.get(BenefitNotice, notice_id, with_for_update=True)
            assert notice is not None
            notice.push_note = note
            if notice.status == MATCHED:
                mark_notified(notice, channel)
            else:  # answered in the mini-program while we were sending
                notice.delivery = channel
                notice.push_started_at = None
        log.info("benefit notice %s delivered via %s", notice_id, channel)
        return Outcome("sent", channel, note=note or "")

    def _timed_out(self, notice_id: int, channel: str) -> Outcome:
        with self.db.session() as s:
            notice = s.get(BenefitNotice, notice_id, with_for_update=True)
            assert notice is not None
            outcome = self._to_worklist(s, notice, f"{channel}: WeChat's answer timed out; "
                                        "may have been delivered; not resent")
        log.warning("benefit notice %s: WeChat answer timed out via %s; to the grid worker",
                    notice_id, channel)
        return outcome

    def _fallback(self, notice_id: int, note: str) -> Outcome:
        with self.db.session() as s:
            notice = s.get(BenefitNotice, notice_id, with_for_update=True)
            assert notice is not None
            return self._to_worklist(s, notice, f"WeChat refused: {note}")

    def _release(self, notice_id: int, resident_id: int, now: datetime, note: str) -> None:
        self.limiter.release(resident_id, now)
        with self.db.session() as s:
            notice = s.get(BenefitNotice, notice_id, with_for_update=True)
            if notice is not None and notice.delivery == SENDING:
                notice.delivery = QUEUED
                notice.push_started_at = None
                notice.push_note = note
