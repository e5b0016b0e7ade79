"""Readiness policy and per-area aggregation for planners (issue 7)."""
