"""Experiments: per-policy holdout groups (assignment), the exposures of both groups, the outcomes
measured after each cohort's horizon, and the uplift verdicts with their intervals."""
