"""Campaign policies: the frequency cap (eligible tag and campaign plans), re-engagement then
sunset, resend to non-openers, offers for warmed-up subscribers; each platform action exactly once."""

from .engine import PolicyPlan, PolicyReport, plan_policies, run_policies

__all__ = ["PolicyPlan", "PolicyReport", "plan_policies", "run_policies"]
