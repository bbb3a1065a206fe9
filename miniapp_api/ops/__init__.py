"""Ops console API under /api/v1/ops: one module per section, all on one blueprint.

Thin: every rule is in ``huimin.ops`` (conversation log, tickets) and ``huimin.wechat.undelivered``.
Staff actions that change something (annotating, ticket work, marking an undelivered message
handled, training, activation, rollback) and views of conversations are in the audit log.
"""

from miniapp_api.ops import dashboard, models, review, tickets, training, undelivered
from miniapp_api.ops.base import bp

SECTIONS = (dashboard, review, tickets, undelivered, training, models)

__all__ = ["SECTIONS", "bp"]
