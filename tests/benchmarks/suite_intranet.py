"""The intranet suite: intranet pages against the trivial signed-in view, and publishing to 20,000 people.

Part 1, pages (gunicorn + the load generator, as the home suite):
  seeds ``manage.py seed_demo`` (1x pages), signs the demo clinician/reviewer
  in through allauth (password + TOTP), counts the queries of the home page, a
  content page and a specialty page, runs interleaved rounds trivial, home,
  content, specialty; then grows the page tree to 10x (standard pages and
  program updates published through revisions) and counts the queries again.

Part 2, publishing an update to 20,000 people (in this process, Celery not eager:
  tasks are queued on the run's own Redis queue and counted, not run):
  - the publish request: Leadership's "Publish" POST to Wagtail's page editor,
    through Django's test client (full middleware, no gunicorn), sequentially,
    against the trivial view fetched the same way in the same run: p95 of each;
  - the fan-out: the job the publish queued, run here, notifying 20,000 people
    in batches, against one ``INSERT … SELECT`` of the same 20,000 rows into a
    copy of the notification table; and how many Celery tasks it took.
"""

from __future__ import annotations

import io
import math
import statistics
import sys
import time
from datetime import UTC, datetime

from tests.benchmarks.harness import (
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
    http_request,
    log,
    median_of,
    ratio,
    record_queries,
    run_load,
    session_cookie_of,
    sign_in,
    start_gunicorn,
    stop_server,
    tool_version,
    wait_until_serving,
)

NAME = "intranet"
RESULTS_FILE = "intranet-latest.json"

TRIVIAL_PATH = "/__bench__/trivial/"
PAGE_PATHS = {"home": "/", "content": "/how-the-program-works/", "specialty": "/specialties/medical-oncology/"}
TARGETS = ("trivial", *PAGE_PATHS)
BENCH_USER_LOCAL = "wei.chen"
PUBLISHER_LOCAL = "robert.adams"
SCALE = 10
AUDIENCE = 20_000
PUBLISH_SAMPLES = 30

GOAL_PAGE_VS_TRIVIAL_THROUGHPUT = 1 / 20
GOAL_PUBLISH_P95_VS_TRIVIAL = 3.0
GOAL_FANOUT_VS_INSERT_SELECT = 4.0


# --- Data --------------------------------------------------------------------------------


def page_count() -> int:
    from wagtail.models import Page

    return Page.objects.filter(depth__gt=1).count()


def grow_pages_to(factor: int, pages_1x: int) -> None:
    """Publish standard pages and program updates until the tree holds ``factor`` x its 1x pages."""
    from cms.demo import PROGRAM_UPDATES, STANDARD_PAGES
    from cms.models import HomePage, ProgramUpdateIndexPage, ProgramUpdatePage, StandardPage

    home = HomePage.objects.get()
    index = ProgramUpdateIndexPage.objects.get()
    n = 0
    while page_count() < factor * pages_1x:
        if n % 2:
            _slug, title, intro, body = STANDARD_PAGES[n % len(STANDARD_PAGES)]
            page = StandardPage(title=f"{title} ({n})", slug=f"bench-page-{n}", intro=intro, body=body())
            home.add_child(instance=page)
        else:
            _slug, title, summary, body, _options = PROGRAM_UPDATES[n % len(PROGRAM_UPDATES)]
            page = ProgramUpdatePage(title=f"{title} ({n})", slug=f"bench-update-{n}", summary=summary, body=body())
            index.add_child(instance=page)
        page.save_revision().publish()
        n += 1


def add_audience(n: int) -> None:
    """``n`` more active people, in bulk (the service's one-by-one path would take many minutes)."""
    from portal.models import Department, Profile, User

    departments = list(Department.objects.order_by("code"))
    users = User.objects.bulk_create(
        [
            User(email=f"bench.reader{i:05d}@riverside.example.org", first_name="Reader", last_name=f"{i:05d}")
            for i in range(n)
        ],
        batch_size=2000,
    )
    Profile.objects.bulk_create(
        [Profile(user=u, department=departments[i % len(departments)]) for i, u in enumerate(users)], batch_size=2000
    )


def count_page_queries(client, path: str) -> list[str]:
    response = client.get(path)
    if response.status_code != 200:
        raise BenchmarkError(f"{path} answered {response.status_code} in the test client")
    response, statements = record_queries(lambda: client.get(path))
    if response.status_code != 200:
        raise BenchmarkError(f"{path} answered {response.status_code} in the test client")
    return statements


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


# --- Part 2: publishing to 20,000 ------------------------------------------------------------


def publish_form(update) -> dict:
    from wagtail.test.utils.form_data import inline_formset, nested_form_data, streamfield

    data = nested_form_data(
        {
            "title": update.title,
            "slug": update.slug,
            "summary": update.summary,
            "body": streamfield([]),
            "audience_everyone": "on",
            "expires_on": "",
            "comments": inline_formset([]),
        }
    )
    data["action-publish"] = "action-publish"
    return data


def measure_publish(publisher, *, registry, env, args, tmp) -> dict:
    """Publish requests (queue only) vs trivial requests, through the test client and gunicorn; then the fan-out."""
    from celery.signals import before_task_publish
    from django.test import Client
    from django.urls import reverse

    from cms import services as cms_services
    from cms.models import ProgramUpdateIndexPage, ProgramUpdatePage
    from portal.celery import app
    from portal.models import Notification, User

    queued: list[str] = []

    def count(sender=None, **kwargs):
        queued.append(sender)

    before_task_publish.connect(count, weak=False)
    app.conf.task_always_eager = False
    try:
        index = ProgramUpdateIndexPage.objects.get()
        update = ProgramUpdatePage(
            title="Benchmark: an update for everyone", slug="bench-everyone", summary="Measured publish."
        )
        index.add_child(instance=update)
        update.save_revision()
        client = Client()
        client.force_login(publisher)
        edit_url = reverse("wagtailadmin_pages:edit", args=(update.pk,))
        client.get(edit_url)
        client.get(TRIVIAL_PATH)
        publish_ms, trivial_ms = [], []
        for _ in range(PUBLISH_SAMPLES):
            publish_ms.append(timed_publish(client, edit_url, update))
            t = time.perf_counter()
            response = client.get(TRIVIAL_PATH)
            trivial_ms.append((time.perf_counter() - t) * 1000)
            if response.status_code != 200:
                raise BenchmarkError(f"trivial GET answered {response.status_code}, not 200")
        publish_tasks = [name for name in queued if name == "cms.tasks.update_notify_audience"]
        # The same publish with our page_published receiver (the only code of ours it runs besides the
        # page form's clean) disconnected: what Wagtail's editor costs on its own, in the same run.
        bare_ms = publish_samples_without_our_receiver(client, edit_url, update)
        gunicorn = publish_through_gunicorn(publisher, update, edit_url, registry=registry, env=env, args=args, tmp=tmp)
        update.refresh_from_db()
        if not update.live:
            raise BenchmarkError("the benchmark update is not live after publishing")
        audience = User.objects.filter(is_active=True).count()

        # The fan-out the publishes queued (each queued the same job: one update, one event key), run once here.
        queued.clear()
        t = time.perf_counter()
        notified = cms_services.update_audience_notify(update_id=update.pk)
        fanout_s = time.perf_counter() - t
        fanout_tasks = 1 + len(queued)  # the job itself + what it queued (e-mail tasks)
        stored = Notification.objects.filter(event_key=update.event_key).count()

        # One INSERT … SELECT of the same rows into a copy of the table, as the floor (the goal's: a TEMP
        # copy, which PostgreSQL does not write to its WAL); for information also into a logged copy, as
        # durable as the real table and its fan-out.
        copied, insert_select_s = insert_select_copy(update.event_key, temporary=True)
        _rows, insert_select_logged_s = insert_select_copy(update.event_key, temporary=False)
    finally:
        app.conf.task_always_eager = True
        before_task_publish.disconnect(count)
    return {
        "audience": audience,
        "publish_requests": PUBLISH_SAMPLES,
        "publish_ms": {"p50": round(statistics.median(publish_ms), 2), "p95": round(p95(publish_ms), 2)},
        "trivial_ms": {"p50": round(statistics.median(trivial_ms), 2), "p95": round(p95(trivial_ms), 2)},
        "publish_p95_vs_trivial_p95": ratio(p95(publish_ms), p95(trivial_ms)),
        "publish_without_our_receiver_ms": {"p50": round(statistics.median(bare_ms), 2), "p95": round(p95(bare_ms), 2)},
        "publish_without_our_receiver_p95_vs_trivial_p95": ratio(p95(bare_ms), p95(trivial_ms)),
        "gunicorn": gunicorn,
        "fanout_jobs_queued_by_publishes": len(publish_tasks),
        "notified": notified,
        "notifications_stored": stored,
        "fanout_seconds": round(fanout_s, 3),
        "insert_select_rows": copied,
        "insert_select_seconds": round(insert_select_s, 4),
        "fanout_vs_insert_select": ratio(fanout_s, insert_select_s),
        "insert_select_logged_table_seconds": round(insert_select_logged_s, 4),
        "fanout_vs_insert_select_logged_table": ratio(fanout_s, insert_select_logged_s),
        "celery_tasks_for_the_fanout": fanout_tasks,
        "celery_tasks_allowed": math.ceil(audience / 1000) + 2,
        "note": (
            "publish and trivial timed through Django's test client in this process (full middleware, no "
            "gunicorn), one after the other; the fan-out ran here with Celery not eager, so its e-mail tasks were "
            "queued and counted, not run"
        ),
    }


def insert_select_copy(event_key: str, *, temporary: bool) -> tuple[int, float]:
    """Copy the event's notifications with one INSERT … SELECT into a fresh copy of the table: (rows, seconds)."""
    from django.db import connection

    with connection.cursor() as cursor:
        kind = "TEMP TABLE" if temporary else "TABLE"
        cursor.execute(f"CREATE {kind} bench_notification (LIKE portal_notification INCLUDING ALL)")
        t = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO bench_notification
              (level, recipient_id, unread, actor_content_type_id, actor_object_id, verb, description,
               target_object_id, action_object_object_id, timestamp, public, deleted, emailed, data,
               kind, event_key, link, email_delivery, emailed_at)
            SELECT level, recipient_id, unread, actor_content_type_id, actor_object_id, verb, description,
               target_object_id, action_object_object_id, timestamp, public, deleted, emailed, data,
               kind, 'bench:insert-select', link, email_delivery, emailed_at
            FROM portal_notification WHERE event_key = %s
            """,
            [event_key],
        )
        rows, seconds = cursor.rowcount, time.perf_counter() - t
        cursor.execute("DROP TABLE bench_notification")
    return rows, seconds


def publish_samples_without_our_receiver(client, edit_url, update) -> list[float]:
    from wagtail.signals import page_published

    from cms import signal_handlers
    from cms.models import ProgramUpdatePage

    page_published.disconnect(sender=ProgramUpdatePage, dispatch_uid="cms_program_update_published")
    try:
        return [timed_publish(client, edit_url, update) for _ in range(PUBLISH_SAMPLES)]
    finally:
        signal_handlers.connect()


def timed_publish(client, edit_url, update) -> float:
    """One "Publish" POST to the page editor through the test client; its milliseconds."""
    t = time.perf_counter()
    response = client.post(edit_url, publish_form(update))
    elapsed = (time.perf_counter() - t) * 1000
    if response.status_code != 302:
        raise BenchmarkError(f"publish POST answered {response.status_code}, not 302")
    return elapsed


def publish_through_gunicorn(publisher, update, edit_url, *, registry, env, args, tmp) -> dict:
    """The same publish POST and trivial GET, one after the other, through gunicorn (full stack, real broker).

    The server queues the fan-out on the run's own Celery queue (``BENCH_CELERY_EAGER=false``, as
    the referrals suite's server); nothing consumes it, the runner deletes it at the end.
    """
    from urllib.parse import urlencode

    from django.db import connections

    from tests.benchmarks.suite_referrals import csrf_token_in

    secret = activate_totp(publisher)
    cookie = session_cookie_of(sign_in(publisher, secret))
    connections.close_all()
    port = free_port()
    server = start_gunicorn(
        registry,
        settings_module=SETTINGS_FULL,
        port=port,
        env={**env, "BENCH_CELERY_EAGER": "false"},
        args=args,
        log_path=tmp / "publish.log",
    )
    try:
        wait_until_serving(server, port, TRIVIAL_PATH)
        status, html, location, set_cookies = http_get(port, edit_url, cookie)
        csrf_cookie, token = csrf_cookie_from(set_cookies), csrf_token_in(html)
        if status != 200 or not csrf_cookie or not token:
            raise BenchmarkError(f"page editor via gunicorn answered {status} (Location {location!r}) without a form")
        cookie = f"{cookie}; {csrf_cookie}"
        body = urlencode({**publish_form(update), "csrfmiddlewaretoken": token})
        for _ in range(3):  # warm-up of both workers
            http_request(port, "POST", edit_url, cookie, body)
            http_get(port, TRIVIAL_PATH, cookie)
        publish_ms, trivial_ms = [], []
        for _ in range(PUBLISH_SAMPLES):
            t = time.perf_counter()
            status, _b, location, _c = http_request(port, "POST", edit_url, cookie, body)
            publish_ms.append((time.perf_counter() - t) * 1000)
            if status != 302 or "/cms-admin/" not in (location or ""):
                raise BenchmarkError(f"publish POST via gunicorn answered {status} (Location {location!r})")
            t = time.perf_counter()
            status, _b, _l, _c = http_get(port, TRIVIAL_PATH, cookie)
            trivial_ms.append((time.perf_counter() - t) * 1000)
            if status != 200:
                raise BenchmarkError(f"trivial via gunicorn answered {status}")
    finally:
        log_tail = stop_server(registry, server)
    return {
        "publish_ms": {"p50": round(statistics.median(publish_ms), 2), "p95": round(p95(publish_ms), 2)},
        "trivial_ms": {"p50": round(statistics.median(trivial_ms), 2), "p95": round(p95(trivial_ms), 2)},
        "publish_p95_vs_trivial_p95": ratio(p95(publish_ms), p95(trivial_ms)),
        # Wagtail logs every edit and publish at INFO; only what went wrong is worth keeping here.
        "server_log_tail": [line for line in log_tail if '"level": "INFO"' not in line],
    }


# --- The suite ---------------------------------------------------------------------------------


def run(args, tool, env, registry, tmp, services) -> dict:
    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    logging.getLogger().setLevel(logging.WARNING)
    t = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())
    user = demo_user(BENCH_USER_LOCAL)
    secret = activate_totp(user)
    pages_1x = page_count()
    log(f"migrated and seeded in {time.monotonic() - t:.1f} s: {pages_1x} pages")

    client = sign_in(user, secret)
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    queries_1x = {name: count_page_queries(client, path) for name, path in PAGE_PATHS.items()}
    log("queries at 1x: " + ", ".join(f"{k} {len(v)}" for k, v in queries_1x.items()))
    db_vendor = connection.vendor
    connections.close_all()

    port = free_port()
    full = start_gunicorn(
        registry, settings_module=SETTINGS_FULL, port=port, env=env, args=args, log_path=tmp / "full.log"
    )
    wait_until_serving(full, port, "/health/")
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_cookie}"
    status, _body, location, set_cookies = http_get(port, PAGE_PATHS["home"], cookie)
    if status != 200:
        raise BenchmarkError(f"home on :{port} answered {status} (Location {location!r})")
    csrf = csrf_cookie_from(set_cookies)
    if csrf:
        cookie += f"; {csrf}"
    urls = {"trivial": f"http://127.0.0.1:{port}{TRIVIAL_PATH}"}
    urls.update({name: f"http://127.0.0.1:{port}{path}" for name, path in PAGE_PATHS.items()})
    for name, url in urls.items():
        status, _b, location, _c = http_get(port, url.split(str(port), 1)[1], cookie)
        if status != 200:
            raise BenchmarkError(f"{name} answered {status} (Location {location!r})")
    if args.warmup > 0:
        for target in TARGETS:
            run_load(registry, tool, urls[target], cookie, args, args.warmup)
    rounds = []
    for number in range(1, args.rounds + 1):
        for target in TARGETS:
            figures = run_load(registry, tool, urls[target], cookie, args, args.duration)
            rounds.append({"round": number, "target": target, **figures})
            log(f"round {number} {target:9} {figures['rps']:8.1f} req/s  p95 {figures['p95_ms']:7.2f} ms")
    server_errors = stop_server(registry, full)

    t = time.monotonic()
    grow_pages_to(SCALE, pages_1x)
    pages_10x = page_count()
    log(f"grew to {pages_10x} pages in {time.monotonic() - t:.1f} s")
    queries_10x = {name: count_page_queries(client, path) for name, path in PAGE_PATHS.items()}
    log("queries at 10x: " + ", ".join(f"{k} {len(v)}" for k, v in queries_10x.items()))

    t = time.monotonic()
    from portal.models import User

    add_audience(AUDIENCE - User.objects.filter(is_active=True).count())
    log(f"audience of {User.objects.filter(is_active=True).count()} in {time.monotonic() - t:.1f} s")
    publishing = measure_publish(demo_user(PUBLISHER_LOCAL), registry=registry, env=env, args=args, tmp=tmp)
    log(f"publishing: {publishing}")
    connections.close_all()

    medians = {target: median_of(rounds, target) for target in TARGETS}
    shares = {name: ratio(medians[name]["rps"], medians["trivial"]["rps"]) for name in PAGE_PATHS}
    goals = {
        f"{name}_throughput_at_least_1_20_of_trivial": {
            "threshold": round(GOAL_PAGE_VS_TRIVIAL_THROUGHPUT, 4),
            "value": shares[name],
            "goal_met": shares[name] is not None and shares[name] >= GOAL_PAGE_VS_TRIVIAL_THROUGHPUT,
        }
        for name in PAGE_PATHS
    }
    goals.update(
        {
            f"{name}_query_count_same_at_10x": {
                "value_1x": len(queries_1x[name]),
                "value_10x": len(queries_10x[name]),
                "goal_met": len(queries_10x[name]) == len(queries_1x[name]),
            }
            for name in PAGE_PATHS
        }
    )
    goals["publish_p95_at_most_3x_trivial_p95"] = {
        "threshold": GOAL_PUBLISH_P95_VS_TRIVIAL,
        "value": publishing["publish_p95_vs_trivial_p95"],
        "goal_met": (publishing["publish_p95_vs_trivial_p95"] or math.inf) <= GOAL_PUBLISH_P95_VS_TRIVIAL,
    }
    goals["fanout_within_4x_insert_select"] = {
        "threshold": GOAL_FANOUT_VS_INSERT_SELECT,
        "value": publishing["fanout_vs_insert_select"],
        "goal_met": (publishing["fanout_vs_insert_select"] or math.inf) <= GOAL_FANOUT_VS_INSERT_SELECT
        and publishing["notifications_stored"] == publishing["audience"],
    }
    goals["fanout_tasks_at_most_ceil_n_1000_plus_2"] = {
        "threshold": publishing["celery_tasks_allowed"],
        "value": publishing["celery_tasks_for_the_fanout"],
        "goal_met": publishing["celery_tasks_for_the_fanout"] <= publishing["celery_tasks_allowed"],
    }
    bad_rounds = [r for r in rounds if r["status_other"] or r["socket_errors"] or not r["requests"]]
    return {
        "benchmark": "intranet pages vs the trivial signed-in view; publishing an update to 20,000 people",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": {
            **environment(args, services, db_vendor),
            "gunicorn": gunicorn_description(args, {"full": f"{SETTINGS_FULL}: {', '.join(urls)}"}),
            "load_generator": {"tool": tool_version(tool), "seconds_per_round": args.duration, "rounds": args.rounds},
            "workers": describe_workers(args),
            "signed_in_as": {"email": user.email, "roles": sorted(user.role_names), "two_factor": "TOTP"},
        },
        "rounds": rounds,
        "medians": medians,
        "throughput_vs_trivial": shares,
        "query_counts": {
            "pages_1x": pages_1x,
            "pages_10x": pages_10x,
            **{f"{name}_1x": len(v) for name, v in queries_1x.items()},
            **{f"{name}_10x": len(v) for name, v in queries_10x.items()},
        },
        "publishing": publishing,
        "goals": goals,
        "all_goals_met": all(g["goal_met"] for g in goals.values()),
        "valid": not bad_rounds,
        "invalid_rounds": bad_rounds,
        "server_log_tail": server_errors,
    }


def summarise(report: dict) -> None:
    for target in TARGETS:
        m = report["medians"][target]
        log(f"median {target:9} {m['rps']:8.1f} req/s  p95 {m['p95_ms']:7.2f} ms")
    log(f"throughput vs trivial: {report['throughput_vs_trivial']}; queries: {report['query_counts']}")
    missed = [name for name, goal in report["goals"].items() if not goal["goal_met"]]
    if missed:
        print(f"benchmark GOAL MISSED: {', '.join(missed)}", file=sys.stderr)
    else:
        print("benchmark: all goals met", file=sys.stderr)
