"""My impact, the leaderboards, the credit rules, participation and the leadership dashboard.

Read-only: every figure comes from ``referrals.metrics`` as an aggregate. The
dashboard and participation pages are for Leadership and Coordinators (403
for everyone else) and show no patient identifier; My impact names a
referral by its reference number only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal import services as portal_services
from portal.dashboards.forms import PRESETS, DashboardFilterForm, LeaderboardVisibilityForm
from portal.models import Profile
from portal.roles import Role
from referrals import metrics, rollups
from referrals.models import CreditRule


def _require_steering_role(user) -> None:
    if not (user.has_role(Role.LEADERSHIP) or user.has_role(Role.COORDINATOR)):
        raise PermissionDenied


def _period(request) -> str:
    period = request.GET.get("period", "month")
    return period if period in metrics.PERIODS else "month"


# --- Credit ----------------------------------------------------------------------------------


@require_GET
def my_impact(request):
    """My points, where they came from, my rank and my department's standing, my reviews."""
    user = request.user
    profile = Profile.objects.filter(user=user).select_related("department").first()
    department = profile.department if profile else None
    mine = metrics.credit_by_period(user=user)
    departments = metrics.credit_by_period(department_id=department.pk) if department else {}
    standings = []
    for period, label in metrics.PERIODS.items():
        since = metrics.period_start(period)
        rank, ranked, points = metrics.person_rank(user=user, since=since, points=mine[period])
        dept_rank, depts_ranked, dept_points = metrics.department_rank(
            department_id=department.pk if department else None, since=since, points=departments.get(period)
        )
        standings.append(
            {
                "period": period,
                "label": label,
                "points": points,
                "rank": rank,
                "ranked": ranked,
                "department_rank": dept_rank,
                "departments_ranked": depts_ranked,
                "department_points": dept_points,
            }
        )
    context = {
        "total": mine["total"],
        "by_rule": metrics.credit_by_rule(user=user),
        "recent": metrics.credit_recent(user=user),
        "standings": standings,
        "department": department,
        "reviews": metrics.reviews_of(user=user) if user.has_role(Role.REVIEWER) else None,
        "privacy_form": LeaderboardVisibilityForm(
            initial={"hide_from_leaderboards": bool(profile and profile.hide_from_leaderboards)}
        ),
    }
    return render(request, "portal/dashboards/my_impact.html", context)


@require_POST
def leaderboard_visibility(request):
    form = LeaderboardVisibilityForm(request.POST)
    if not form.is_valid():  # a boolean field: only a forged post gets here
        return HttpResponse("Choose whether to show your name.", status=400, content_type="text/plain")
    hidden = form.cleaned_data["hide_from_leaderboards"]
    portal_services.profile_leaderboard_visibility_set(user=request.user, hidden=hidden)
    messages.success(
        request,
        "Your name is now hidden on the leaderboards." if hidden else "Your name now shows on the leaderboards.",
    )
    return redirect("my_impact")


LEADERBOARD_SIZE = 25


@require_GET
def leaderboards(request):
    """People and departments by points this month, quarter or year; ties share a rank."""
    period = _period(request)
    since = metrics.period_start(period)
    people = metrics.people_standings(since=since, viewer=request.user, limit=LEADERBOARD_SIZE)
    me = None
    if not any(p.is_you for p in people):
        # Below the top of the board: show where I stand under it.
        rank, _, points = metrics.person_rank(user=request.user, since=since)
        if rank is not None:
            me = metrics.Standing(
                rank=rank, points=points, name=request.user.get_full_name(), department="", is_you=True
            )
    return render(
        request,
        "portal/dashboards/leaderboards.html",
        {
            "period": period,
            "period_label": metrics.PERIODS[period],
            "periods": metrics.PERIODS,
            "people": people,
            "me": me,
            "departments": metrics.department_standings(since=since),
        },
    )


@require_GET
def credit_rules(request):
    """What earns credit, and that credit is recognition only."""
    return render(request, "portal/dashboards/credit_rules.html", {"rules": CreditRule.objects.filter(is_active=True)})


# --- Tables shared by the dashboard and participation pages -----------------------------------------


@dataclass
class Table:
    key: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict]
    note: str = ""

    @property
    def cells(self):
        return [[row.get(name) for name, _ in self.columns] for row in self.rows]


def _dashboard_tables(figures: dict) -> list[Table]:
    s = figures["summary"]
    return [
        Table(
            "funnel",
            "Funnel",
            [("step", "Step"), ("referrals", "Referrals"), ("share_of_submitted", "% of submitted")],
            s["funnel"],
        ),
        Table(
            "loop_closure",
            "Loop closure",
            [("measure", "Measure"), ("value", "Value")],
            [
                {"measure": "Staff referrals", "value": s["with_referrer"]},
                {"measure": "Opinion delivered to the referrer", "value": s["loop_closed"]},
                {"measure": "Loop-closure rate (%)", "value": s["loop_closure_rate"]},
                {"measure": "Declined", "value": s["declined"]},
                {"measure": "Cancelled", "value": s["cancelled"]},
                {"measure": "Still open", "value": s["still_open"]},
            ],
            "Share of staff referrals whose referrer has received the opinion.",
        ),
        Table("by_week", "Referrals by week", [("week", "Week of"), ("referrals", "Referrals")], figures["by_week"]),
        Table(
            "by_channel",
            "Referrals by channel",
            [("channel", "Channel"), ("referrals", "Referrals")],
            figures["by_channel"],
        ),
        Table(
            "sources",
            "Internal and concierge volume",
            [("source", "Source"), ("referrals", "Referrals"), ("share", "%")],
            s["sources"],
        ),
        Table(
            "by_department",
            "Referrals by department",
            [("department", "Department"), ("referrals", "Referrals")],
            figures["by_department"],
        ),
        Table(
            "by_specialty",
            "Referrals by specialty",
            [("specialty", "Specialty"), ("referrals", "Referrals")],
            figures["by_specialty"],
        ),
        Table(
            "clocks",
            "Service-level clocks (business days, holds and open questions paused)",
            [
                ("clock", "Clock"),
                ("completed", "Completed"),
                ("median_business_days", "Median"),
                ("p90_business_days", "90th percentile"),
                ("past_target", "Past target"),
                ("within_target_share", "% within target"),
            ],
            figures["clocks"],
        ),
        Table(
            "open_past_target",
            "Open cases past their target now",
            [("clock", "Clock"), ("open_cases_past_target", "Cases")],
            figures["open_past_target"],
        ),
        Table(
            "outcomes",
            "Outcome mix",
            [("measure", "Measure"), ("outcome", "Outcome"), ("referrals", "Referrals"), ("share", "% of recorded")],
            figures["outcomes"],
        ),
        Table(
            "equity",
            "Equity",
            [
                ("group", "Group"),
                ("referrals", "Referrals"),
                ("share_of_all", "% of all"),
                ("opinion_delivered", "Opinion delivered"),
                ("delivered_rate", "% delivered"),
            ],
            s["equity"],
        ),
        _reviewer_table(figures["reviewers"]),
        _specialty_table(figures["specialties"]),
    ]


def _reviewer_table(rows) -> Table:
    return Table(
        "reviewers",
        "Reviewer participation",
        [
            ("reviewer", "Reviewer"),
            ("claimed", "Cases held"),
            ("delivered", "Opinions delivered"),
            ("median_claim_to_delivery_business_days", "Median claim → delivery (business days)"),
        ],
        rows,
    )


def _specialty_table(rows) -> Table:
    return Table(
        "specialties",
        "Participation by specialty",
        [
            ("specialty", "Specialty"),
            ("referrals", "Referrals"),
            ("median_queue_business_days", "Median time in queue (business days)"),
            ("active_reviewers", "Active reviewers"),
            ("credentialed_reviewers", "Credentialed reviewers"),
            ("active_share", "% active"),
        ],
        rows,
    )


def _charts(figures: dict) -> list[dict]:
    s = figures["summary"]

    def outcome(measure):
        rows = [r for r in figures["outcomes"] if r["measure"] == measure]
        return [r["outcome"] for r in rows], [r["referrals"] for r in rows]

    dx_labels, dx_data = outcome("Diagnosis")
    tx_labels, tx_data = outcome("Treatment")
    return [
        {
            "id": "chart-by-week",
            "title": "Referrals by week",
            "type": "line",
            "labels": [r["week"].isoformat() for r in figures["by_week"]],
            "data": [r["referrals"] for r in figures["by_week"]],
        },
        {
            "id": "chart-funnel",
            "title": "Funnel",
            "type": "bar",
            "labels": [r["step"] for r in s["funnel"]],
            "data": [r["referrals"] for r in s["funnel"]],
        },
        {
            "id": "chart-channel",
            "title": "Referrals by channel",
            "type": "doughnut",
            "labels": [r["channel"] for r in figures["by_channel"]],
            "data": [r["referrals"] for r in figures["by_channel"]],
        },
        {
            "id": "chart-diagnosis",
            "title": "Diagnosis outcome",
            "type": "doughnut",
            "labels": dx_labels,
            "data": dx_data,
        },
        {
            "id": "chart-treatment",
            "title": "Treatment outcome",
            "type": "doughnut",
            "labels": tx_labels,
            "data": tx_data,
        },
    ]


def _csv_response(table: Table, filters) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table.key}-{filters.start}-{filters.end}.csv"'
    writer = csv.writer(response)
    writer.writerow([label for _, label in table.columns])
    for row in table.cells:
        writer.writerow(["" if value is None else value for value in row])
    return response


def _filtered(request):
    form = DashboardFilterForm(request.GET or None)
    if not request.GET:
        form = DashboardFilterForm({"period": "4w"})
    return form, (form.filters() if form.is_valid() else None)


def _download_or_page(request, template, form, filters, tables, extra=None):
    download = request.GET.get("download")
    if download:
        if filters is None:
            return HttpResponse("Fix the period and filters before downloading.", status=400, content_type="text/plain")
        table = next((t for t in tables if t.key == download), None)
        if table is None:
            raise Http404("No such table")
        return _csv_response(table, filters)
    query = request.GET.copy()
    query.pop("download", None)
    context = {"form": form, "filters": filters, "tables": tables, "query": query.urlencode(), "presets": PRESETS}
    context.update(extra or {})
    return render(request, template, context, status=200 if filters is not None else 400)


@require_GET
def dashboard(request):
    """The leadership dashboard: aggregates only, for Leadership and Coordinators."""
    _require_steering_role(request.user)
    form, filters = _filtered(request)
    figures = refreshed_at = None
    if filters is not None:
        refreshed_at = rollups.refresh_referral_facts_if_stale()
        figures = metrics.leadership_dashboard(filters)
    tables = _dashboard_tables(figures) if figures else []
    extra = {"figures": figures, "charts": _charts(figures) if figures else [], "refreshed_at": refreshed_at}
    return _download_or_page(request, "portal/dashboards/dashboard.html", form, filters, tables, extra)


@require_GET
def participation(request):
    """Per reviewer, specialty and department, and referrers to reach out to (coordinators, leadership)."""
    _require_steering_role(request.user)
    form, filters = _filtered(request)
    tables = []
    if filters is not None:
        rollups.refresh_referral_facts_if_stale()
        facts = filters.facts()
        groups = metrics.fact_groups(facts)  # one pass over the facts for both tables
        outreach = metrics.referrer_outreach()
        referrer_columns = [
            ("referrer", "Referrer"),
            ("department", "Department"),
            ("referrals_last_90_days", "Referrals, last 90 days"),
            ("referrals_ever", "Referrals, ever"),
            ("first_referral", "First referral"),
            ("last_referral", "Last referral"),
        ]
        tables = [
            _reviewer_table(metrics.reviewer_participation(facts, None, groups=groups)),
            _specialty_table(
                metrics.specialty_participation(
                    facts,
                    None,
                    groups=groups,
                    referrals_by_specialty=metrics.day_referrals_by_specialty(filters),
                )
            ),
            Table(
                "departments",
                "Participation by department",
                [
                    ("department", "Department"),
                    ("referrals", "Referrals"),
                    ("referring_clinicians", "Referring clinicians"),
                    ("referrals_per_100_staff", "Referrals per 100 staff"),
                    ("training_required", "Required courses (person × course)"),
                    ("training_complete", "Completed"),
                    ("training_overdue", "Overdue"),
                    ("training_share", "% of required training complete"),
                ],
                metrics.department_participation(facts),
            ),
            Table(
                "new_referrers", "New referrers (first referral in the last 90 days)", referrer_columns, outreach["new"]
            ),
            Table("top_referrers", "Top referrers (last 90 days)", referrer_columns, outreach["top"]),
            Table(
                "lapsed_referrers",
                "Lapsed referrers (referred before, not in the last 90 days)",
                referrer_columns,
                outreach["lapsed"],
                "A thank-you and a reminder of how to refer often brings a colleague back.",
            ),
        ]
    return _download_or_page(request, "portal/dashboards/participation.html", form, filters, tables)
