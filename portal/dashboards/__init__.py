"""Read-only pages on top of the apps: credit, leaderboards, participation, the leadership dashboard.

Views here call the apps' selectors (``referrals.metrics``, ``referrals.selectors``)
and never write, except a person's own leaderboard privacy choice through
``portal.services``.
"""
