"""Rasa custom-action tests on recorded trackers (tests/actions/data/*.json)."""
