"""Every table, imported in one place so Alembic and `create_all` see the full schema."""

import huimin.identity.accounts  # noqa: F401 - sign-in accounts (issue 3)
import huimin.privacy.audit  # noqa: F401
import huimin.privacy.consent  # noqa: F401
import huimin.wechat.undelivered  # noqa: F401 - WeChat messages kept for staff follow-up
from huimin.benefits import models as benefit_models  # noqa: F401 - notices (issue 6)
from huimin.catalogue import offices  # noqa: F401
from huimin.employment_code import store as employment_code_store  # noqa: F401
from huimin.grid import models as grid_models  # noqa: F401 - visits, consent requests (issue 8)
from huimin.guides import care as care_mode  # noqa: F401 - care-mode choices (issue 8)
from huimin.ops import handoff  # noqa: F401
from huimin.ops import models as ops_tables  # noqa: F401 - ops console (issue 9)
from huimin.platform.db import Base
from huimin.residents import models as resident_models  # noqa: F401
from huimin.wechat import users as wechat_users  # noqa: F401

metadata = Base.metadata
