"""Care mode (适老化 / 关怀模式): who gets it, and a resident's own choice.

On for residents aged 60+ (by the birth date the bureau holds), unless they turned it off;
on for anyone who turned it on; always on when a grid worker is assisting. The choice is
stored per resident when we know who the citizen is, else per mini-program account, so a
choice made in the mini-program also applies in the WeChat chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from huimin.guides.models import CareModeChoice
from huimin.guides.session import CARE_MODE_AGE, care_mode_for
from huimin.identity import accounts
from huimin.residents.models import Resident
from huimin.rules.dates import age_on

ASSISTED, CHOICE, AGE, DEFAULT = "assisted", "choice", "age", "default"


@dataclass(frozen=True)
class CareMode:
    enabled: bool
    # Why: assisted | choice | age | default.
    source: str
    choice: bool | None = None
    age: int | None = None

    def to_dict(self) -> dict:
        return {"care_mode": self.enabled, "source": self.source, "choice": self.choice,
                "age": self.age, "age_threshold": CARE_MODE_AGE}


def _row(
    session: Session, resident_id: int | None, account_id: int | None
) -> CareModeChoice | None:
    if resident_id is not None:
        row = session.scalar(select(CareModeChoice).where(
            CareModeChoice.resident_id == resident_id))
        if row is not None:
            return row
    if account_id is not None:
        return session.scalar(select(CareModeChoice).where(
            CareModeChoice.citizen_account_id == account_id))
    return None


def resolve(
    session: Session,
    *,
    resident_id: int | None = None,
    account_id: int | None = None,
    assisted: bool = False,
    today: date | None = None,
) -> CareMode:
    """The care mode for a citizen (resident and/or mini-program account, either may be
    unknown)."""
    resident = session.get(Resident, resident_id) if resident_id is not None else None
    age = None
    if resident is not None and resident.birth_date is not None:
        age = age_on(resident.birth_date, today or date.today())
    row = _row(session, resident_id, account_id)
    choice = row.enabled if row is not None else None
    enabled = care_mode_for(age, choice, assisted)
    if assisted:
        source = ASSISTED
    elif choice is not None:
        source = CHOICE
    elif enabled:
        source = AGE
    else:
        source = DEFAULT
    return CareMode(enabled=enabled, source=source, choice=choice, age=age)


def choose(
    session: Session,
    enabled: bool | None,
    *,
    resident_id: int | None = None,
    account_id: int | None = None,
) -> None:
    """Record the citizen's choice (None: forget it, back to the age rule)."""
    if resident_id is None and account_id is None:
        raise ValueError("a care-mode choice needs a resident or an account")
    row = _row(session, resident_id, account_id)
    if enabled is None:
        if row is not None:
            session.delete(row)
        session.flush()
        return
    if row is None:
        row = CareModeChoice(resident_id=resident_id, citizen_account_id=None
                             if resident_id is not None else account_id, enabled=enabled)
        session.add(row)
    else:
        row.enabled = enabled
        if resident_id is not None and row.resident_id is None:
            # Bound their real name since choosing: the choice follows the resident now.
            row.resident_id, row.citizen_account_id = resident_id, None
    session.flush()


@accounts.register_eraser
def erase_for_resident(session: Session, resident_id: int) -> None:
    """Account deletion: the care-mode choice goes with the account."""
    session.execute(delete(CareModeChoice).where(CareModeChoice.resident_id == resident_id))
