"""Ops console domain: what the assistant misunderstood, annotations, training, the model
registry and its gate, hand-off ticket work and the quality dashboard.

Kept import-free on purpose: ``huimin.ops.rasa_events`` is loaded by the Rasa server (its own
Python environment), which must not pull in the app's dependencies.
"""
