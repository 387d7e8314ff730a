"""Benchmark of the portal's home page against two baselines measured in the same run.

Run from the project root::

    .venv/bin/python -m tests.benchmarks.run        # or: .venv/bin/python tests/benchmarks/run.py

What it does (see README.md in this folder):

1. checks PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) and exits 2
   with one line if either is unreachable;
2. creates a fresh database ``portal_bench``, migrates it with production
   settings (``tests.benchmarks.settings``) and seeds 1x data:
   ``manage.py seed_demo`` plus 20 notifications for the benchmark user, a
   clinician/reviewer who gets a real TOTP authenticator;
3. signs that user in through allauth's own pages (password, then a TOTP code)
   and keeps the session cookie;
4. counts the SQL queries of one home page request at the cursor;
5. starts two gunicorns on free ports: the portal with its full middleware
   (home page and ``/__bench__/trivial/``), and a bare one with
   ``MIDDLEWARE = []`` serving ``/__bench__/bare/``;
6. runs interleaved rounds bare, trivial, home, bare, ... with wrk
   (concurrency 8, fixed duration), signed in on every request;
7. grows the data to 10x (people and notifications), counts the queries
   again and measures one more home round for information;
8. prints one JSON document to stdout, writes it to results/latest.json,
   stops every process it started and drops the database.

Exit status: 0 when the measurement ran (even if a goal is missed), 2 when a
service is unreachable, 1 on any other failure, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # run as a script: python tests/benchmarks/run.py
    sys.path.insert(0, str(REPO))

RESULTS_DIR = HERE / "results"
WRK_SCRIPT = HERE / "wrk_report.lua"
SETTINGS_FULL = "tests.benchmarks.settings"
SETTINGS_BARE = "tests.benchmarks.settings_bare"

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


class ServiceUnavailable(Exception):
    pass


class BenchmarkError(Exception):
    pass


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- Processes -----------------------------------------------------------------


class ProcessRegistry:
    """Every child runs in its own process group; stop_all() ends each group."""

    def __init__(self):
        self.processes: list[subprocess.Popen] = []

    def start(self, args, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(args, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 10.0) -> None:
        if process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            self.stop(process)
        self.processes.clear()


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Services ------------------------------------------------------------------


def check_services(pg_host: str, pg_port: int, redis_host: str, redis_port: int) -> dict:
    import psycopg
    import redis

    try:
        with psycopg.connect(host=pg_host, port=pg_port, user="postgres", dbname="postgres", connect_timeout=3) as conn:
            pg_version = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:
        raise ServiceUnavailable(
            f"PostgreSQL is not reachable at {pg_host}:{pg_port} as user postgres ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no detail'})"
        ) from exc
    try:
        client = redis.Redis(host=redis_host, port=redis_port, socket_timeout=3, socket_connect_timeout=3)
        client.ping()
        redis_version = client.info("server").get("redis_version", "?")
    except Exception as exc:
        raise ServiceUnavailable(
            f"Redis is not reachable at {redis_host}:{redis_port} ({type(exc).__name__}: {exc})"
        ) from exc
    return {"postgresql_server_version": pg_version, "redis_server_version": redis_version}


def recreate_database(pg_host: str, pg_port: int, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=pg_host, port=pg_port, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(pg_host: str, pg_port: int, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=pg_host, port=pg_port, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def clear_cache_keys(redis_host: str, redis_port: int, db: int, prefix: str) -> int:
    """Delete only this benchmark's keys (its cache key prefix) from its Redis db."""
    import redis

    client = redis.Redis(host=redis_host, port=redis_port, db=db, socket_timeout=3)
    deleted = 0
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


# --- Data ----------------------------------------------------------------------


def bench_user():
    from portal import demo
    from portal.models import User

    person = next(p for p in demo.PEOPLE if p.email_local == BENCH_USER_LOCAL)
    return User.objects.get(email=demo.demo_email(person))


def seed_1x() -> dict:
    """``manage.py seed_demo``, a TOTP authenticator and 20 notifications for the bench user."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
    user = bench_user()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
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


# --- Signing in and counting queries -------------------------------------------------


def sign_in(user, totp_secret: str):
    """Sign in through allauth's pages: e-mail and password, then a current TOTP code."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from portal import demo

    client = Client()
    response = client.post(reverse("account_login"), {"login": user.email, "password": demo.DEMO_PASSWORD})
    if response.status_code != 302 or response["Location"] != reverse("mfa_authenticate"):
        raise BenchmarkError(
            f"sign-in did not ask for the TOTP code (status {response.status_code}, "
            f"Location {response.get('Location')!r})"
        )
    code = format_hotp_value(hotp_value(totp_secret, int(time.time()) // 30))
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    if response.status_code != 302 or response["Location"] != settings.LOGIN_REDIRECT_URL:
        raise BenchmarkError(
            f"TOTP step did not sign in (status {response.status_code}, Location {response.get('Location')!r})"
        )
    return client


def assert_home_page(status: int, body: str, location: str | None, where: str) -> None:
    if status != 200:
        raise BenchmarkError(f"home page via {where} answered {status} (Location {location!r}), not 200")
    if 'id="welcome-heading"' not in body or "Welcome, " not in body:
        raise BenchmarkError(f"home page via {where} has no welcome heading")


class QueryRecorder:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)


def count_queries(client, path: str, *, home: bool) -> list[str]:
    """SQL statements of one request, after a warm-up request of the same page.

    The warm-up consumes one-off work (pending messages, the session's first
    two-factor check, the activity stamp written at most every 15 s), so the
    counted request is a steady-state one.
    """
    from django.db import connection

    response = client.get(path)
    if home:
        assert_home_page(response.status_code, response.content.decode(), response.get("Location"), "test client")
    recorder = QueryRecorder()
    with connection.execute_wrapper(recorder):
        response = client.get(path)
    if response.status_code != 200:
        raise BenchmarkError(f"{path} answered {response.status_code} in the test client")
    return recorder.statements


def repeated(statements: list[str]) -> list[dict]:
    return [{"count": n, "sql": sql} for sql, n in Counter(statements).most_common() if n > 1]


# --- Servers and load ------------------------------------------------------------


def http_get(port: int, path: str, cookie: str | None, timeout: float = 30.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, body, response.getheader("Location"), response.msg.get_all("Set-Cookie") or []
    finally:
        conn.close()


def start_gunicorn(registry, *, settings_module, port, env, args, log_path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "portal.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--worker-class", args.worker_class,
        "--workers", str(args.workers),
        "--threads", str(args.threads),
        "--chdir", str(REPO),
        "--no-control-socket",
        "--log-level", "warning",
        "--timeout", "60",
        "--graceful-timeout", "5",
    ]  # fmt: skip
    if Path("/dev/shm").is_dir():
        command += ["--worker-tmp-dir", "/dev/shm"]
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed when the run ends
    process = registry.start(
        command,
        cwd=str(REPO),
        env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    process.log_file = log_file
    process.log_path = log_path
    return process


def wait_until_serving(process, port: int, probe_path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = Path(process.log_path).read_text(errors="replace")[-2000:]
            raise BenchmarkError(f"gunicorn on port {port} exited with {process.returncode}:\n{tail}")
        try:
            http_get(port, probe_path, None, timeout=5)
            return
        except OSError:
            time.sleep(0.2)
    raise BenchmarkError(f"gunicorn on port {port} did not answer within {timeout:.0f} s")


def run_load(registry, tool: str, url: str, cookie: str, args, duration: float) -> dict:
    if tool == "wrk":
        command = [
            "wrk", f"-t{args.wrk_threads}", f"-c{args.concurrency}", f"-d{duration:g}s", "--timeout", "30s",
            "--latency", "-s", str(WRK_SCRIPT), "-H", f"Cookie: {cookie}", url,
        ]  # fmt: skip
    else:
        command = [
            sys.executable, str(HERE / "loadgen.py"), url, "--connections", str(args.concurrency),
            "--duration", f"{duration:g}", "--header", f"Cookie: {cookie}",
        ]  # fmt: skip
    load_before = round(os.getloadavg()[0], 2)
    process = registry.start(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = process.communicate(timeout=duration + 60)
    finally:
        registry.stop(process)
        registry.processes.remove(process)
    text = stdout.decode("utf-8", "replace")
    match = re.search(r"^BENCH_JSON (\{.*\})\s*$", text, re.MULTILINE)
    if process.returncode != 0 or not match:
        raise BenchmarkError(
            f"load generator failed (exit {process.returncode}): {text[-800:]} {stderr.decode(errors='replace')[-800:]}"
        )
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    socket_errors = sum(raw["errors"][k] for k in ("connect", "read", "write", "timeout"))
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(lat["p50"] / 1000, 2),
        "p95_ms": round(lat["p95"] / 1000, 2),
        "p75_ms": round(lat["p75"] / 1000, 2),
        "p90_ms": round(lat["p90"] / 1000, 2),
        "p99_ms": round(lat["p99"] / 1000, 2),
        "mean_ms": round(lat["mean"] / 1000, 2),
        "max_ms": round(lat["max"] / 1000, 2),
        "status_200": raw["status_200"],
        "status_other": raw["status_other"],
        "first_other_status": raw["first_other_status"] or None,
        "socket_errors": socket_errors,
        "bytes_per_response": round(raw["bytes"] / raw["requests"]) if raw["requests"] else 0,
        # Another busy process on the machine shows here (wrk + gunicorn alone hold it near the core count).
        "loadavg_1m_before": load_before,
    }


def median_of(rounds: list[dict], target: str) -> dict:
    mine = [r for r in rounds if r["target"] == target]
    return {
        "rounds": len(mine),
        "rps": round(statistics.median(r["rps"] for r in mine), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in mine), 2),
        "p95_ms": round(statistics.median(r["p95_ms"] for r in mine), 2),
    }


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


# --- Main ------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of bare, trivial, home (default 3)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round and target (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load per target first")
    parser.add_argument("--concurrency", type=int, default=8, help="open connections (default 8)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2 = cores)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (default gthread)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--load-generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--db-name", default="portal_bench")
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place at the end")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=5)
    parser.add_argument("--skip-10x-load", action="store_true", help="do not measure the extra home round at 10x")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.loadavg_at_start = round(os.getloadavg()[0], 2)
    real_stdout = sys.stdout
    # Ctrl-C, kill and a closed terminal all end in the same clean-up (even when
    # started in the background, where SIGINT would otherwise be ignored).
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGHUP, _raise_keyboard_interrupt)
    try:
        services = check_services(args.pg_host, args.pg_port, args.redis_host, args.redis_port)
    except ServiceUnavailable as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 2

    tool = args.load_generator
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    elif tool == "wrk" and not shutil.which("wrk"):
        print(
            "benchmark: wrk is not installed (apt-get install -y wrk) - or pass --load-generator python",
            file=sys.stderr,
        )
        return 1
    if tool == "python":
        why = "wrk not found" if args.load_generator == "auto" else "asked for"
        log(f"{why}: using the Python load generator; on 2 cores it competes with the server for CPU")

    registry = ProcessRegistry()
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    cache_prefix = f"portal_bench_{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"postgres://postgres@{args.pg_host}:{args.pg_port}/{args.db_name}",
        "REDIS_URL": f"redis://{args.redis_host}:{args.redis_port}/{args.redis_db}",
        "CACHE_KEY_PREFIX": cache_prefix,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "PORTAL_BASE_URL": "http://127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(tmp / "static"),
        "MEDIA_ROOT": str(tmp / "media"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
        "PYTHONUNBUFFERED": "1",
    }
    (tmp / "static").mkdir()
    (tmp / "media").mkdir()
    started_at = time.monotonic()
    database_created = False
    try:
        with contextlib.redirect_stdout(sys.stderr):
            os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
            os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_FULL
            log(f"fresh database {args.db_name}; Redis db {args.redis_db}, cache prefix {cache_prefix}")
            recreate_database(args.pg_host, args.pg_port, args.db_name)
            database_created = True
            report = measure(args, tool, env, registry, tmp, services)
        report["run_seconds"] = round(time.monotonic() - started_at, 1)
        document = json.dumps(report, indent=2)
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / "latest.json").write_text(document + "\n")
        real_stdout.write(document + "\n")
        real_stdout.flush()
        summarise(report)
        return 0
    except KeyboardInterrupt:
        log("interrupted; stopping everything it started")
        return 130
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        registry.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        if "django.db" in sys.modules:
            with contextlib.suppress(Exception):
                from django.apps import apps
                from django.db import connections

                if apps.ready:
                    connections.close_all()
        with contextlib.suppress(Exception):
            clear_cache_keys(args.redis_host, args.redis_port, args.redis_db, cache_prefix)
        if database_created and not args.keep_db:
            try:
                drop_database(args.pg_host, args.pg_port, args.db_name)
            except Exception as exc:  # report, but keep the exit status of the run
                log(f"could not drop database {args.db_name}: {exc}")


def measure(args, tool, env, registry, tmp, services) -> dict:
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
    for header in set_cookies:
        name, _, rest = header.partition("=")
        if name.strip() == settings.CSRF_COOKIE_NAME:
            cookie += f"; {settings.CSRF_COOKIE_NAME}={rest.split(';', 1)[0]}"
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

    for process in (full, bare):
        registry.stop(process)
        process.log_file.close()
    server_errors = {
        name: [line for line in Path(p.log_path).read_text(errors="replace").splitlines() if line.strip()][-20:]
        for name, p in (("full", full), ("bare", bare))
    }

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

    import django as django_pkg
    import gunicorn
    import wagtail

    return {
        "benchmark": "portal home page vs bare and trivial baselines",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": {
            "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "loadavg_1m_at_start": args.loadavg_at_start,
            "python": platform.python_version(),
            "django": django_pkg.get_version(),
            "wagtail": wagtail.__version__,
            "database_vendor": db_vendor,
            **services,
            "settings_module": SETTINGS_FULL,
            "gunicorn": {
                "version": gunicorn.__version__,
                "worker_class": args.worker_class,
                "workers": args.workers,
                "threads_per_worker": args.threads if args.worker_class == "gthread" else 1,
                "servers": {
                    "full": f"{SETTINGS_FULL} (full middleware): home {HOME_PATH}, trivial {TRIVIAL_PATH}",
                    "bare": f"{SETTINGS_BARE} (MIDDLEWARE = []): bare {BARE_PATH}",
                },
            },
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


def describe_workers(args) -> str:
    if args.worker_class == "gthread":
        return f"{args.workers} gthread workers x {args.threads} threads"
    return f"{args.workers} {args.worker_class} workers"


def tool_version(tool: str) -> str:
    if tool != "wrk":
        return "python loadgen.py (fallback; shares the CPUs with the server)"
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
        first = (out.stdout or out.stderr).strip().splitlines()[0]
        return first
    except Exception:
        return "wrk"


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


if __name__ == "__main__":
    sys.exit(main())
