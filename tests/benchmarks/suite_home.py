"""The home suite: the portal's home page against two baselines measured in the same run.

1. seeds 1x data: ``manage.py seed_demo`` plus 20 notifications for the
   benchmark user, a clinician/reviewer who gets a real TOTP authenticator;
2. signs that user in through allauth's own pages (password, then a TOTP code)
   and keeps the session cookie;
3. counts the SQL queries of one home page request at the cursor;
4. starts two gunicorns on free ports: the portal with its full middleware
   (home page and ``/__bench__/trivial/``), and a bare one with
   ``MIDDLEWARE = []`` serving ``/__bench__/bare/``;
5. runs interleaved rounds bare, trivial, home, bare, ... with wrk
   (concurrency 8, fixed duration), signed in on every request;
6. grows the data to 10x (people and notifications), counts the queries
   again and measures one more home round for information.
"""

from __future__ import annotations

import io
import sys
import time
from collections import Counter
from datetime import UTC, datetime

from tests.benchmarks.harness import (
    SETTINGS_BARE,
    SETTINGS_FULL,
    BenchmarkError,
    activate_totp,
    csrf_cookie_from,
    demo_user,
    describe_workers,
    environment,
    free_port,
    gunicorn_description,
    http_get,
    log,
    median_of,
    ratio,
    record_queries,
    repeated,
    run_load,
    sign_in,
    start_gunicorn,
    stop_server,
    tool_version,
    wait_until_serving,
)

NAME = "home"
RESULTS_FILE = "latest.json"

BARE_PATH = "/__bench__/bare/"
TRIVIAL_PATH = "/__bench__/trivial/"
HOME_PATH = "/"
TARGETS = ("bare", "trivial", "home")

# The demo clinician and reviewer: a role that sees patient data, so production
# requires two-factor for them, and the home page shows the reviewer's extras.
BENCH_USER_LOCAL = "wei.chen"
NOTIFICATIONS_1X = 20
SCALE = 10

GOAL_HOME_VS_TRIVIAL_THROUGHPUT = 1 / 20


# --- Data ----------------------------------------------------------------------


def bench_user():
    return demo_user(BENCH_USER_LOCAL)


def seed_1x() -> dict:
    """``manage.py seed_demo``, a TOTP authenticator and 20 notifications for the bench user."""
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
    user = bench_user()
    secret = activate_totp(user)
    send_bench_notifications(user, start=0, count=NOTIFICATIONS_1X)
    return {"user": user, "totp_secret": secret}


def send_bench_notifications(user, *, start: int, count: int) -> None:
    from portal import services
    from portal.models import User
    from portal.notification_kinds import NotificationKind

    actors = list(User.objects.exclude(pk=user.pk).order_by("pk"))
    kinds = list(NotificationKind)
    for i in range(start, start + count):
        services.notification_send(
            kind=kinds[i % len(kinds)],
            event_key=f"bench:{i}",
            recipient_ids=[user.pk],
            verb=f"Referral SO-{10000 + i} moved forward",
            actor=actors[i % len(actors)] if actors else None,
            link=f"/referrals/mine/?ref=SO-{10000 + i}" if i % 3 else "",
        )


def scale_to(factor: int) -> None:
    """Grow people (via services.user_create) and the bench user's notifications to ``factor`` x 1x."""
    from portal import demo, services
    from portal.models import Department, Notification, Profile, Specialty, User
    from portal.roles import Role

    user = bench_user()
    departments = list(Department.objects.order_by("code"))
    specialties = list(Specialty.objects.order_by("slug"))
    role_sets = [
        (Role.CLINICIAN,),
        (Role.CLINICIAN, Role.REVIEWER),
        (Role.CLINICIAN,),
        (Role.COORDINATOR,),
        (Role.LEADERSHIP,),
    ]
    job_roles = [Profile.JobRole.PHYSICIAN, Profile.JobRole.NURSE, Profile.JobRole.ADVANCED_PRACTICE]
    wanted_people = factor * len(demo.PEOPLE)
    index = 0
    while User.objects.count() < wanted_people:
        roles = role_sets[index % len(role_sets)]
        services.user_create(
            email=f"bench.person{index:04d}@{demo.DEMO_DOMAIN}",
            password=None,  # never signs in; skips the deliberately slow password hash
            first_name=f"Bench{index:04d}",
            last_name="Person",
            department=departments[index % len(departments)],
            job_role=job_roles[index % len(job_roles)],
            title="Generated for the benchmark",
            roles=roles,
            review_specialties=[specialties[index % len(specialties)]] if Role.REVIEWER in roles else [],
        )
        index += 1
    have = Notification.objects.filter(recipient=user).count()
    send_bench_notifications(user, start=have, count=factor * NOTIFICATIONS_1X - have)


def data_sizes() -> dict:
    from portal.models import Notification, User

    user = bench_user()
    return {
        "people": User.objects.count(),
        "notifications_total": Notification.objects.count(),
        "notifications_of_bench_user": Notification.objects.filter(recipient=user).count(),
    }


# --- Counting queries ----------------------------------------------------------------


def assert_home_page(status: int, body: str, location: str | None, where: str) -> None:
    if status != 200:
        raise BenchmarkError(f"home page via {where} answered {status} (Location {location!r}), not 200")
    if 'id="welcome-heading"' not in body or "Welcome, " not in body:
        raise BenchmarkError(f"home page via {where} has no welcome heading")


def count_queries(client, path: str, *, home: bool) -> list[str]:
    """SQL statements of one request, after a warm-up request of the same page.

    The warm-up consumes one-off work (pending messages, the session's first
    two-factor check, the activity stamp written at most every 15 s), so the
    counted request is a steady-state one.
    """
    response = client.get(path)
    if home:
        assert_home_page(response.status_code, response.content.decode(), response.get("Location"), "test client")
    response, statements = record_queries(lambda: client.get(path))
    if response.status_code != 200:
        raise BenchmarkError(f"{path} answered {response.status_code} in the test client")
    return statements


# --- The suite -------------------------------------------------------------------------


def run(args, tool, env, registry, tmp, services) -> dict:
    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    # Keep the runner's own stderr readable: the portal logs every notification at INFO.
    logging.getLogger().setLevel(logging.WARNING)

    t = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    log(f"migrated in {time.monotonic() - t:.1f} s")
    t = time.monotonic()
    seeded = seed_1x()
    user = seeded["user"]
    sizes_1x = data_sizes()
    log(f"seeded 1x in {time.monotonic() - t:.1f} s: {sizes_1x}")

    client = sign_in(user, seeded["totp_secret"])
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    home_1x = count_queries(client, HOME_PATH, home=True)
    trivial_1x = count_queries(client, TRIVIAL_PATH, home=False)
    log(f"queries at 1x: home {len(home_1x)}, trivial {len(trivial_1x)}")
    db_vendor = connection.vendor
    connections.close_all()

    full_port, bare_port = free_port(), free_port()
    while bare_port == full_port:
        bare_port = free_port()
    full = start_gunicorn(
        registry, settings_module=SETTINGS_FULL, port=full_port, env=env, args=args, log_path=tmp / "full.log"
    )
    bare = start_gunicorn(
        registry, settings_module=SETTINGS_BARE, port=bare_port, env=env, args=args, log_path=tmp / "bare.log"
    )
    wait_until_serving(full, full_port, "/health/")
    wait_until_serving(bare, bare_port, BARE_PATH)
    log(f"gunicorn up: full stack on :{full_port}, bare on :{bare_port} ({describe_workers(args)})")

    # Signed in for real: the home page itself, not a redirect to sign-in or to two-factor set-up.
    status, body, location, set_cookies = http_get(
        full_port, HOME_PATH, f"{settings.SESSION_COOKIE_NAME}={session_cookie}"
    )
    assert_home_page(status, body, location, f"gunicorn :{full_port}")
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_cookie}"
    # A browser sends back the CSRF cookie the page set; without it every response would mint a new one.
    csrf = csrf_cookie_from(set_cookies)
    if csrf:
        cookie += f"; {csrf}"
    for port, path in ((full_port, TRIVIAL_PATH), (bare_port, BARE_PATH)):
        status, body, location, _ = http_get(port, path, cookie)
        if status != 200:
            raise BenchmarkError(f"{path} on :{port} answered {status} (Location {location!r})")

    urls = {
        "bare": f"http://127.0.0.1:{bare_port}{BARE_PATH}",
        "trivial": f"http://127.0.0.1:{full_port}{TRIVIAL_PATH}",
        "home": f"http://127.0.0.1:{full_port}{HOME_PATH}",
    }
    if args.warmup > 0:
        for target in TARGETS:
            run_load(registry, tool, urls[target], cookie, args, args.warmup)
        log(f"warmed up ({args.warmup:g} s per target)")

    rounds = []
    for number in range(1, args.rounds + 1):
        for target in TARGETS:
            figures = run_load(registry, tool, urls[target], cookie, args, args.duration)
            rounds.append({"round": number, "target": target, **figures})
            log(
                f"round {number} {target:8} {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:7.2f} ms  "
                f"p95 {figures['p95_ms']:7.2f} ms  non-200 {figures['status_other']}  errors {figures['socket_errors']}"
            )

    t = time.monotonic()
    scale_to(SCALE)
    sizes_10x = data_sizes()
    log(f"scaled to {SCALE}x in {time.monotonic() - t:.1f} s: {sizes_10x}")
    home_10x = count_queries(client, HOME_PATH, home=True)
    log(f"queries at {SCALE}x: home {len(home_10x)}")
    connections.close_all()

    home_10x_round = None
    if not args.skip_10x_load:
        home_10x_round = run_load(registry, tool, urls["home"], cookie, args, args.duration)
        log(f"home at {SCALE}x {home_10x_round['rps']:8.1f} req/s  p50 {home_10x_round['p50_ms']:7.2f} ms")

    server_errors = {"full": stop_server(registry, full), "bare": stop_server(registry, bare)}

    medians = {target: median_of(rounds, target) for target in TARGETS}
    home, trivial, bare_m = medians["home"], medians["trivial"], medians["bare"]
    ratios = {
        "home_vs_bare": {
            "rps": ratio(home["rps"], bare_m["rps"]),
            "p50": ratio(home["p50_ms"], bare_m["p50_ms"]),
            "p95": ratio(home["p95_ms"], bare_m["p95_ms"]),
        },
        "home_vs_trivial": {
            "rps": ratio(home["rps"], trivial["rps"]),
            "p50": ratio(home["p50_ms"], trivial["p50_ms"]),
            "p95": ratio(home["p95_ms"], trivial["p95_ms"]),
        },
        "trivial_vs_bare": {
            "rps": ratio(trivial["rps"], bare_m["rps"]),
            "p50": ratio(trivial["p50_ms"], bare_m["p50_ms"]),
            "p95": ratio(trivial["p95_ms"], bare_m["p95_ms"]),
        },
    }
    extra_at_10x = Counter(home_10x) - Counter(home_1x)
    query_counts = {
        "home_1x": len(home_1x),
        "home_10x": len(home_10x),
        "grew": len(home_10x) > len(home_1x),
        "trivial_1x": len(trivial_1x),
        "data_1x": sizes_1x,
        "data_10x": sizes_10x,
        "home_1x_repeated_statements": repeated(home_1x),
        "home_10x_extra_statements": [{"count": n, "sql": sql} for sql, n in extra_at_10x.most_common()],
        "home_1x_statements": home_1x,
    }
    throughput_share = ratios["home_vs_trivial"]["rps"]
    goals = {
        "home_throughput_at_least_1_20_of_trivial": {
            "description": "home page requests/s >= 1/20 of the trivial signed-in view's (medians)",
            "threshold": round(GOAL_HOME_VS_TRIVIAL_THROUGHPUT, 4),
            "value": throughput_share,
            "goal_met": throughput_share is not None and throughput_share >= GOAL_HOME_VS_TRIVIAL_THROUGHPUT,
        },
        "query_count_same_at_10x": {
            "description": f"SQL queries of one home page request at {SCALE}x data == at 1x",
            "value_1x": len(home_1x),
            "value_10x": len(home_10x),
            "goal_met": len(home_10x) == len(home_1x),
        },
    }
    bad_rounds = [r for r in rounds if r["status_other"] or r["socket_errors"] or not r["requests"]]
    if home_10x_round and (home_10x_round["status_other"] or home_10x_round["socket_errors"]):
        bad_rounds.append({"round": "10x", "target": "home", **home_10x_round})

    return {
        "benchmark": "portal home page vs bare and trivial baselines",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": {
            **environment(args, services, db_vendor),
            "gunicorn": gunicorn_description(
                args,
                {
                    "full": f"{SETTINGS_FULL} (full middleware): home {HOME_PATH}, trivial {TRIVIAL_PATH}",
                    "bare": f"{SETTINGS_BARE} (MIDDLEWARE = []): bare {BARE_PATH}",
                },
            ),
            "load_generator": {
                "tool": tool_version(tool),
                "threads": args.wrk_threads if tool == "wrk" else args.concurrency,
                "concurrency": args.concurrency,
                "seconds_per_round": args.duration,
                "warmup_seconds_per_target": args.warmup,
                "rounds": args.rounds,
                "order": "interleaved: " + ", ".join(TARGETS) + ", ...",
            },
            "signed_in_as": {"email": user.email, "roles": sorted(user.role_names), "two_factor": "TOTP"},
        },
        "rounds": rounds,
        "medians": medians,
        "ratios": ratios,
        "ratio_note": (
            "rps ratio = home/baseline throughput (a fraction); p50/p95 ratio = home/baseline latency (a multiple)"
        ),
        "home_at_10x": home_10x_round,
        "query_counts": query_counts,
        "goals": goals,
        "all_goals_met": all(g["goal_met"] for g in goals.values()),
        "valid": not bad_rounds,
        "invalid_rounds": bad_rounds,
        "server_log_tail": {k: v for k, v in server_errors.items() if v},
    }


def summarise(report: dict) -> None:
    medians, ratios, goals = report["medians"], report["ratios"], report["goals"]
    for target in TARGETS:
        m = medians[target]
        log(f"median {target:8} {m['rps']:8.1f} req/s  p50 {m['p50_ms']:7.2f} ms  p95 {m['p95_ms']:7.2f} ms")
    log(
        f"home/trivial throughput {ratios['home_vs_trivial']['rps']}, home/bare {ratios['home_vs_bare']['rps']}; "
        f"queries 1x {report['query_counts']['home_1x']}, {SCALE}x {report['query_counts']['home_10x']}"
    )
    if not report["valid"]:
        print(
            "benchmark WARNING: some rounds had non-200 responses or socket errors; see invalid_rounds",
            file=sys.stderr,
        )
    missed = [name for name, goal in goals.items() if not goal["goal_met"]]
    if missed:
        print(f"benchmark GOAL MISSED: {', '.join(missed)}", file=sys.stderr)
    else:
        print("benchmark: all goals met", file=sys.stderr)
