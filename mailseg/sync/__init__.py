"""Mirroring segments onto the email platform (sync) and importing its members and reports (pull)."""

from .classes import ENGAGEMENT_CLASSES, engagement_specs, plan_engagement_sync, sync_engagement
from .engine import Plan, SegmentSpec, SyncOptions, SyncReport, plan_segments, sync_segments

__all__ = ["ENGAGEMENT_CLASSES", "Plan", "SegmentSpec", "SyncOptions", "SyncReport", "engagement_specs",
           "plan_engagement_sync", "plan_segments", "sync_engagement", "sync_segments"]
