"""Grid workers (网格员) helping the residents of their grids, safely and accountably.

- ``access``: the one check before acting for a resident (own grid, consent in force);
- ``assignment``: which worker looks after which grids;
- ``consents``: consent by one tap in WeChat, or on paper confirmed by a second staff member;
- ``worklist``: who needs a visit, most urgent first;
- ``benefits``, ``assist``, ``visits``: acting for a resident (benefits, guides, visit notes);
- ``history``: what was done for a resident, from the audit log;
- ``notify``: the WeChat message telling the resident about each action.
"""
