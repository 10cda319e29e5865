"""The data model. Import models from here."""

from .audience import SUBSCRIBER_STATUSES, SUPPRESSED_STATUSES, Audience, Subscriber, SubscriberClass, normalise_email
from .base import Base, JSONType, UTCDateTime, utcnow
from .campaigns import CAMPAIGN_KINDS, Campaign
from .api import API_SCOPES, ApiToken
from .events import EVENT_SOURCES, EVENT_TYPES, UNCOUNTED_ORDER_STATUSES, Event, SubscriberActivity, normalise_order_status
from .history import RUN_STATUSES, ClassChange, JobRun, SubscriberStatusChange
from .panel import USER_ROLES, JobRequest, LoginAttempt, LoginCounter, SecretFingerprint, SettingChange, SettingOverride, User, UserSession
from .policies import ACTION_STEPS, POLICIES, REENGAGEMENT_STATES, CampaignPlan, PolicyAction, PolicyRecipient, ReengagementState
from .segments import RetiredTag, Segment, SegmentChange, SegmentMember, SegmentSize
from .surveys import SURVEY_KINDS, FormSubmission, SignupForm, Survey, SurveyAnswer, SurveyResponse
from .scheduling import SchedulerLease, apscheduler_jobs
from .experiments import EXPERIMENT_POLICIES, ExperimentCohort, Exposure, Verdict
from .sandbox import (SANDBOX_STATES, SandboxActivity, SandboxCampaign, SandboxList, SandboxMember, SandboxRecipient,
                      SandboxSegment, SandboxSegmentMember)
from .sync import PullCursor, SyncFailure, SyncMember, SyncSegment
from .value import PROSPECT, QUADRANTS, VALUE_FAMILIES, OrderChange, OrderTotals, SubscriberValue, ValueChange, ValueModel

__all__ = [
    "Audience", "Base", "ClassChange", "SchedulerLease", "apscheduler_jobs", "JobRun", "RUN_STATUSES", "CAMPAIGN_KINDS", "Campaign", "EVENT_SOURCES", "EVENT_TYPES", "Event",
    "JSONType", "SUBSCRIBER_STATUSES", "SUPPRESSED_STATUSES", "Subscriber", "UTCDateTime",
    "normalise_email", "utcnow", "PullCursor", "SyncFailure", "SyncMember", "SyncSegment",
    "ACTION_STEPS", "POLICIES", "REENGAGEMENT_STATES", "CampaignPlan", "PolicyAction", "PolicyRecipient",
    "ReengagementState", "SubscriberStatusChange", "USER_ROLES", "JobRequest", "LoginAttempt", "LoginCounter",
    "UserSession", "SecretFingerprint", "SettingChange", "SettingOverride", "User",
    "RetiredTag", "Segment", "SegmentChange", "SegmentMember", "SegmentSize",
    "SURVEY_KINDS", "FormSubmission", "SignupForm", "Survey", "SurveyAnswer", "SurveyResponse",
    "API_SCOPES", "ApiToken", "UNCOUNTED_ORDER_STATUSES", "normalise_order_status", "PROSPECT", "QUADRANTS", "VALUE_FAMILIES",
    "SubscriberClass", "SubscriberValue", "ValueChange", "ValueModel", "OrderTotals", "OrderChange", "SubscriberActivity",
    "EXPERIMENT_POLICIES", "ExperimentCohort", "Exposure", "Verdict", "SANDBOX_STATES", "SandboxActivity",
    "SandboxCampaign", "SandboxList", "SandboxMember", "SandboxRecipient", "SandboxSegment", "SandboxSegmentMember",
]
