"""Rasa custom actions, split by concern; each calls the domain package (`huimin`)."""

from bot.actions import handoff, offices  # noqa: F401
