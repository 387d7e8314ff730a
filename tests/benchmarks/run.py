"""Benchmarks of the portal, each against a baseline measured in the same run.

Run from the project root::

    .venv/bin/python -m tests.benchmarks.run                     # the home suite (default)
    .venv/bin/python -m tests.benchmarks.run --suite referrals   # referral submit, claim, list queries
    .venv/bin/python -m tests.benchmarks.run --suite all         # both, one after the other
    .venv/bin/python tests/benchmarks/run.py ...                 # the same, as a script

Suites (see README.md in this folder):

- ``home`` (``suite_home.py``): the home page against a bare and a trivial
  signed-in view, and its query count at 1x and 10x data;
- ``referrals`` (``suite_referrals.py``): the referral submit and claim POSTs
  against a one-row-insert POST, and the query counts of the referral lists
  and detail page at 1,000 and 100,000 referrals;
- ``intranet`` (``suite_intranet.py``): intranet pages against the trivial
  view, and publishing an update to 20,000 people;
- ``dashboard`` (``suite_dashboard.py``): the leadership dashboard and the
  leaderboards at 1,000,000 referrals, rollups against the raw tables, in a
  volume database kept between runs (``--volume-db``).

Each suite checks PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) and
exits 2 with one line if either is unreachable; creates a fresh database
``portal_bench`` and migrates it with production settings
(``tests.benchmarks.settings``); signs people in through allauth's own pages
(password, then a TOTP code); starts gunicorn on free ports; runs interleaved
wrk rounds; prints one JSON document to stdout and writes it to results/;
stops every process it started, deletes its Redis keys and drops the database.
``--suite all`` runs each suite in a child process of its own and prints one
document holding both.

Exit status: 0 when the measurement ran (even if a goal is missed), 2 when a
service is unreachable, 1 on any other failure, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # run as a script: python tests/benchmarks/run.py
    sys.path.insert(0, str(REPO))

from tests.benchmarks import suite_dashboard, suite_home, suite_intranet, suite_referrals  # noqa: E402
from tests.benchmarks.harness import (  # noqa: E402
    RESULTS_DIR,
    SETTINGS_FULL,
    BenchmarkError,
    ProcessRegistry,
    ServiceUnavailable,
    check_services,
    clear_cache_keys,
    delete_redis_keys,
    drop_database,
    log,
    raise_keyboard_interrupt,
    recreate_database,
)

SUITES = {
    suite_home.NAME: suite_home,
    suite_referrals.NAME: suite_referrals,
    suite_intranet.NAME: suite_intranet,
    suite_dashboard.NAME: suite_dashboard,
}
ALL_RESULTS_FILE = "all-latest.json"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--suite", choices=[*SUITES, "all"], default=suite_home.NAME, help="which suite to run (default home)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds of every target (default 3; the referrals suite 5, see its README section)",
    )
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
    home = parser.add_argument_group("home suite")
    home.add_argument("--skip-10x-load", action="store_true", help="do not measure the extra home round at 10x")
    referrals = parser.add_argument_group("referrals suite")
    referrals.add_argument(
        "--referrals-small", type=int, default=1000, help="referrals when the queries are first counted (1,000)"
    )
    referrals.add_argument(
        "--referrals-large", type=int, default=100_000, help="referrals when they are counted again (100,000)"
    )
    dashboard = parser.add_argument_group("dashboard suite")
    dashboard.add_argument(
        "--volume-db", default="portal_volume", help="database of generated volume, kept between runs (portal_volume)"
    )
    dashboard.add_argument(
        "--volume-referrals", type=int, default=1_000_000, help="referrals to generate into it (1,000,000)"
    )
    dashboard.add_argument("--dashboard-rounds", type=int, default=3, help="interleaved rounds per figure (3)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    args.loadavg_at_start = round(os.getloadavg()[0], 2)
    # Ctrl-C, kill and a closed terminal all end in the same clean-up (even when
    # started in the background, where SIGINT would otherwise be ignored).
    signal.signal(signal.SIGINT, raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    signal.signal(signal.SIGHUP, raise_keyboard_interrupt)
    try:
        services = check_services(args.pg_host, args.pg_port, args.redis_host, args.redis_port)
    except ServiceUnavailable as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 2
    if args.suite == "all":
        return run_all(argv)

    tool = args.load_generator
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    elif tool == "wrk" and not shutil.which("wrk"):
        print(
            "benchmark: wrk is not installed (apt-get install -y wrk) - or pass --load-generator python",
            file=sys.stderr,
        )
        return 1
    if args.rounds is None:
        args.rounds = getattr(SUITES[args.suite], "DEFAULT_ROUNDS", 3)
    if tool == "python":
        why = "wrk not found" if args.load_generator == "auto" else "asked for"
        log(f"{why}: using the Python load generator; on 2 cores it competes with the server for CPU")
    return run_suite(SUITES[args.suite], args, tool, services)


def run_suite(suite, args, tool, services) -> int:
    real_stdout = sys.stdout
    registry = ProcessRegistry()
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    run_id = secrets.token_hex(4)
    cache_prefix = f"portal_bench_{run_id}"
    # Celery's queue of this run (the referrals suite queues notifications on it; nothing consumes them).
    celery_queue = f"portal_bench_{run_id}_tasks"
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"postgres://postgres@{args.pg_host}:{args.pg_port}/{args.db_name}",
        "REDIS_URL": f"redis://{args.redis_host}:{args.redis_port}/{args.redis_db}",
        "CACHE_KEY_PREFIX": cache_prefix,
        "BENCH_CELERY_QUEUE": celery_queue,
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
            report = suite.run(args, tool, env, registry, tmp, services)
        report["run_seconds"] = round(time.monotonic() - started_at, 1)
        document = json.dumps(report, indent=2)
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / suite.RESULTS_FILE).write_text(document + "\n")
        real_stdout.write(document + "\n")
        real_stdout.flush()
        suite.summarise(report)
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
        with contextlib.suppress(Exception):
            for pattern in (
                f"{celery_queue}*",
                f"_kombu.binding.{celery_queue}*",
                f"_kombu.binding_permanent.{celery_queue}*",
            ):
                delete_redis_keys(args.redis_host, args.redis_port, args.redis_db, pattern)
        if database_created and not args.keep_db:
            try:
                drop_database(args.pg_host, args.pg_port, args.db_name)
            except Exception as exc:  # report, but keep the exit status of the run
                log(f"could not drop database {args.db_name}: {exc}")


def _without_suite(argv: list[str]) -> list[str]:
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--suite":
            skip = True
        elif not arg.startswith("--suite="):
            rest.append(arg)
    return rest


def run_all(argv: list[str]) -> int:
    """Every suite in a child process of its own (a fresh Django and database each); one combined document."""
    started_at = time.monotonic()
    registry = ProcessRegistry()
    documents: dict[str, dict | None] = {}
    statuses: dict[str, int] = {}
    try:
        for name in SUITES:
            log(f"suite {name}")
            child = registry.start(
                [sys.executable, "-m", "tests.benchmarks.run", *_without_suite(argv), "--suite", name],
                cwd=str(REPO),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stop_timeout=120.0,  # time for the child's own clean-up (servers, database)
            )
            stdout, _ = child.communicate()
            registry.processes.remove(child)
            statuses[name] = child.returncode
            try:
                documents[name] = json.loads(stdout.decode("utf-8", "replace")) if child.returncode == 0 else None
            except json.JSONDecodeError:
                documents[name] = None
            if child.returncode == 2:  # a service went away: the next suite would fail the same way
                break
    except KeyboardInterrupt:
        log("interrupted; stopping everything it started")
        registry.stop_all()
        return 130
    finally:
        registry.stop_all()
    report = {
        "benchmark": "all suites: " + ", ".join(SUITES),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exit_status": statuses,
        "all_goals_met": all(d is not None and d.get("all_goals_met") for d in documents.values())
        and len(documents) == len(SUITES),
        "valid": all(d is not None and d.get("valid") for d in documents.values()) and len(documents) == len(SUITES),
        "suites": documents,
        "run_seconds": round(time.monotonic() - started_at, 1),
    }
    document = json.dumps(report, indent=2)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / ALL_RESULTS_FILE).write_text(document + "\n")
    sys.stdout.write(document + "\n")
    sys.stdout.flush()
    failed = [code for code in statuses.values() if code != 0]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main())
