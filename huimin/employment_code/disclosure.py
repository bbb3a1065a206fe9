"""What a scanner may learn from our verify answer.

Anyone (not signed in, a citizen, staff without the verifier role): only whether the code is
valid, revoked or expired. A signed-in verifier (employer, office): the status and colour too,
but a sensitive status (``SENSITIVE_STATUSES``: 重点帮扶 says the holder needs assistance) only
when they state why they need it (the purpose is logged). A holder who consented to share with
employers also shows a verifier the masked name and a job-seeking summary, nothing more.

Sensitive facts (hard-to-employ, disability, low income, pension, ID, phone) are never
disclosed here; the colour already tells a verifier what it needs about assistance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from huimin.privacy.masking import mask_name
from huimin.privacy.pii import NAME, PiiCipher, PiiDecryptError
from huimin.residents import choice_label
from huimin.residents.models import Resident

from .status import Status, definition

_NUMERALS = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五"}

SENSITIVE_STATUSES = frozenset({Status.PRIORITY})
PURPOSE_MIN, PURPOSE_MAX = 2, 100


def clean_purpose(purpose: str | None) -> str | None:
    """The verifier's stated reason, or None when it is missing or too short to mean one."""
    text = " ".join((purpose or "").split())
    return text[:PURPOSE_MAX] if len(text) >= PURPOSE_MIN else None


def status_visible(status: Status | None, *, verifier: bool, purpose: str | None) -> bool:
    """May this scanner see the code's status (and colour, label, services)?"""
    if status is None or not verifier:
        return False
    return status not in SENSITIVE_STATUSES or clean_purpose(purpose) is not None


@dataclass(frozen=True)
class JobSeekingSummary:
    status_label: str
    employment_status: str | None
    """Chinese label of the employment status, e.g. 失业 / 灵活就业."""
    registered_unemployed: bool | None
    certificate_level: int | None
    graduation_year: int | None
    text: str

    def to_dict(self) -> dict[str, object]:
        return {
            "status_label": self.status_label,
            "employment_status": self.employment_status,
            "registered_unemployed": self.registered_unemployed,
            "certificate_level": self.certificate_level,
            "graduation_year": self.graduation_year,
            "text": self.text,
        }


def job_seeking_summary(
    resident: Resident, status: Status, *, today: date | None = None
) -> JobSeekingSummary:
    """A short plain-Chinese summary an employer can act on."""
    today = today or date.today()
    employment = (
        choice_label("employment_status", resident.employment_status)
        if resident.employment_status
        else None
    )
    graduation_year = None
    if resident.graduation_date is not None and resident.graduation_date.year >= today.year - 2:
        graduation_year = resident.graduation_date.year  # recent graduates only
    parts = [definition(status).label.split(" · ")[-1]]
    if employment:
        parts.append(f"就业状态：{employment}")
    if resident.registered_unemployed:
        parts.append("已办理失业登记")
    if resident.certificate_level:
        level = _NUMERALS.get(resident.certificate_level, str(resident.certificate_level))
        parts.append(f"职业技能等级证书{level}级")
    if graduation_year:
        parts.append(f"{graduation_year}年毕业")
    return JobSeekingSummary(
        status_label=definition(status).label,
        employment_status=employment,
        registered_unemployed=resident.registered_unemployed,
        certificate_level=resident.certificate_level,
        graduation_year=graduation_year,
        text="；".join(parts),
    )


def masked_name(resident: Resident, cipher: PiiCipher) -> str | None:
    """`张**`, or None when no name is on file or it cannot be decrypted."""
    stored = resident.name_enc
    if not stored:
        return None
    token = stored.decode("ascii") if isinstance(stored, bytes | bytearray) else str(stored)
    try:
        return mask_name(cipher.decrypt(token, field=NAME))
    except (PiiDecryptError, UnicodeDecodeError):
        return None
