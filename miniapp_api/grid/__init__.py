"""Grid workers (网格员) acting for the residents of their grids, and what residents see of it.

Staff tool: the worklist, a resident's benefits with reasons, confirming a notice for them,
a guide in assisted mode (the grid worker reads each step out), visit notes, and consent
(asked for in WeChat, or recorded on paper and confirmed by a second staff member).
Mini-program (``me``): ``/me/history`` (what was done for me) and answering a one-tap
consent request.

Every check (own grid, consent in force) lives in ``huimin.grid``; a refusal is answered
with its own code (``not_your_grid``, ``consent_required``) and audited; every action is
audited and the resident gets a WeChat message about it. One blueprint, one module per section.
"""

from miniapp_api.grid import assignments, consents, me, residents, worklist
from miniapp_api.grid.base import bp

SECTIONS = (worklist, residents, consents, me, assignments)

__all__ = ["SECTIONS", "bp"]
