"""Deployment: the multi-host topology (deploy/README.md) and its test harness."""
