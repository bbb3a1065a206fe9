"""WeChat official-account channel: the callback WeChat's servers POST messages to."""

from handlers.callback import bp

__all__ = ["bp"]
