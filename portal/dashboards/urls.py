"""Credit, leaderboards, participation and the leadership dashboard. Included at the site root."""

from django.urls import path

from portal.dashboards import views

urlpatterns = [
    path("impact/", views.my_impact, name="my_impact"),
    path("impact/leaderboard-name/", views.leaderboard_visibility, name="leaderboard_visibility"),
    path("leaderboards/", views.leaderboards, name="leaderboards"),
    path("credit/rules/", views.credit_rules, name="credit_rules"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("participation/", views.participation, name="participation"),
]
