"""Every table, imported in one place so Alembic and `create_all` see the full schema.

Each capability keeps its tables in its own ``models.py``; this module only lists them.
"""

from huimin.benefits import models as benefits_models  # noqa: F401
from huimin.catalogue import models as catalogue_models  # noqa: F401
from huimin.employment_code import models as employment_code_models  # noqa: F401
from huimin.grid import models as grid_models  # noqa: F401
from huimin.guides import models as guides_models  # noqa: F401
from huimin.identity import models as identity_models  # noqa: F401
from huimin.ops import models as ops_models  # noqa: F401
from huimin.platform.db import Base
from huimin.privacy import models as privacy_models  # noqa: F401
from huimin.residents import models as residents_models  # noqa: F401
from huimin.wechat import models as wechat_models  # noqa: F401

metadata = Base.metadata
