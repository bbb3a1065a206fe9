"""Huimin domain package: the logic every edge (WeChat handlers, mini-program API,
Rasa actions, RQ jobs, ops console, CLI) calls. No Flask imports here."""
