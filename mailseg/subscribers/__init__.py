"""Subscribers: the one path that creates and updates them (upsert.py) and the one function that
changes their status and records it in the status history (status.py)."""
