"""Helpers for the store tests: scripts run as subprocesses, and the code that starts them."""
