"""Rasa custom actions, split by concern; each calls the domain package (`huimin`)."""

from bot.actions import (  # noqa: F401
    applications,
    benefits,
    employment_code,
    fallback,
    guides,
    handoff,
    offices,
    policy,
)
