"""Engagement classes: active, semi_active, inactive, new (or the status), computed in the database.

The rules are in rules.py (SQL) and explain.py (the same rules for one subscriber, in words).
"""

from .classify import CLASSIFY_STEPS, ClassifyResult, class_counts, classify_all, classify_audience
from .explain import EvidenceEvent, Explanation, SubscriberNotFound, explain_subscriber, find_subscriber_id
from .export import CLASS_COLUMNS, HISTORY_COLUMNS, class_rows, history_rows
from .window import CLASS_NAMES, ENGAGED_CLASSES, STATUS_CLASSES, window_bounds

__all__ = [
    "CLASSIFY_STEPS", "CLASS_COLUMNS", "HISTORY_COLUMNS", "history_rows", "CLASS_NAMES", "ClassifyResult", "ENGAGED_CLASSES", "EvidenceEvent",
    "Explanation", "STATUS_CLASSES", "SubscriberNotFound", "class_counts", "class_rows", "classify_all",
    "classify_audience", "explain_subscriber", "find_subscriber_id", "window_bounds",
]
