"""Rasa custom actions, split by concern; each calls the domain package (`huimin`)."""

from bot.actions import employment_code, handoff, offices  # noqa: F401
