"""Hosts as Linux network namespaces on one machine (topology.py)."""
