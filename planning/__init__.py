"""The readiness policy (issue 5: one home, one test, for `homeshore check`) and per-area aggregation for
planners (issue 7: a home's whole history, areas, teams near hubs)."""
