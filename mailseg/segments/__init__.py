"""Rule segments ("dynamic groups"): the grammar, its compilation to one set-based statement, stored
membership with a join/leave history, presets, and their mirroring as tags."""

from .compiler import members_query
from .grammar import RuleError, parse_rule
from .store import (Preview, RefreshResult, SegmentNotFound, add_segment, get_segment, list_segments, parse_for,
                    preview, refresh_all, refresh_segment, remove_segment, update_segment)

__all__ = [
    "Preview", "RefreshResult", "RuleError", "SegmentNotFound", "add_segment", "get_segment", "list_segments",
    "members_query", "parse_for", "parse_rule", "preview", "refresh_all", "refresh_segment", "remove_segment",
    "update_segment",
]
