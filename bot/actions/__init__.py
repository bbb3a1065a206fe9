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
from bot.actions.context import database

# Start-up: build the runtime now, so that with HUIMIN_ENV=production the action server refuses
# development secrets before it serves (the database connects lazily, on first use).
database()
