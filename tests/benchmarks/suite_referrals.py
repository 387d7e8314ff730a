"""The referrals suite: submitting and claiming referrals against a one-row-insert POST,
and the query counts of the referral pages at 1,000 and 100,000 referrals.

1. migrates a fresh database, runs ``manage.py seed_demo``, adds referrers and
   reviewers (``services.user_create``), creates the baseline's ``bench_insert``
   table, gives six demo people a real TOTP authenticator and signs each in
   through allauth's pages;
2. moves one referral through the services to a long timeline (question,
   claim, release, assignment, reassignment, hold, records, notes, review) and
   bulk-inserts referrals (``bulk_create`` in batches, with their events) up
   to 1,000; counts the SQL queries of the review queue, the coordinator
   board, my referrals and two detail pages in the test client, and those of
   one baseline, submit and claim POST;
3. starts gunicorn (full middleware) with Celery on a real broker (the
   bench's Redis db, a queue of this run, no worker): a request *queues* its
   notification, as in production, and nothing executes it;
4. checks each target once through gunicorn, warms them up, bulk-inserts the
   claim pool (accepted referrals in the three reviewers' specialties, one
   slice per wrk thread so no referral is claimed twice), then runs
   interleaved rounds baseline, submit, claim, ... with wrk (concurrency 8);
5. stops gunicorn and checks the rows against the answers: one referral and
   one CREATED event per successful submit, one CLAIM event per successful
   claim, one row per successful baseline POST, no duplicate reference or
   token, and one queued notification per event;
6. bulk-inserts referrals up to 100,000 and counts the pages' queries again.
"""

from __future__ import annotations

import io
import math
import re
import secrets
import statistics
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from tests.benchmarks import referral_data
from tests.benchmarks.harness import (
    SETTINGS_FULL,
    WRK_POST_SCRIPT,
    BenchmarkError,
    activate_totp,
    cpu_seconds_between,
    csrf_cookie_from,
    demo_user,
    describe_workers,
    environment,
    extra_statements,
    free_port,
    gunicorn_description,
    http_request,
    log,
    median_of,
    postgres_cpu_seconds,
    ratio,
    ratios_against,
    record_queries,
    repeated,
    run_load,
    session_cookie_of,
    sign_in,
    start_gunicorn,
    stop_server,
    tool_version,
    wait_until_serving,
    worker_cpu_seconds,
)

NAME = "referrals"
RESULTS_FILE = "referrals-latest.json"

TARGETS = ("baseline", "submit", "claim")
KIND_CODE = {"baseline": 1, "submit": 2, "claim": 3}
INSERT_PATH = "/__bench__/insert/"
INSERT_REDIRECT = "/__bench__/trivial/"
SUBMIT_PATH = "/refer/"
# What a successful POST redirects to (Lua patterns for wrk_post.lua, regexes here).
OK_LOCATION_LUA = {
    "baseline": "^/__bench__/trivial/$",
    "submit": "^/referrals/SO%-%d+%-%d+/$",
    "claim": "^/referrals/SO%-%d+%-%d+/$",
}
OK_LOCATION = {
    "baseline": re.compile(r"^/__bench__/trivial/$"),
    "submit": re.compile(r"^/referrals/(SO-\d+-\d+)/$"),
    "claim": re.compile(r"^/referrals/(SO-\d+-\d+)/$"),
}
TOKEN_RE = re.compile(r"^([0-9a-f]{8})-([0-9a-f]{4})-4([0-9a-f]{3})-8([0-9a-f]{3})-([0-9a-f]{12})$")

# Who does what (demo people; each gets a TOTP authenticator and signs in).
SUBMITTERS = ("maria.rivera", "samuel.okafor", "wei.chen")  # clinicians; requests rotate over them
SUBMIT_SPECIALTIES = ("medical-oncology", "cardiology", "neurology")
REVIEWERS = ("wei.chen", "anita.patel", "jonas.berg")  # one specialty each: oncology, cardiology, neurology
COORDINATOR = "grace.lee"
MAIN_REFERRER = "maria.rivera"
QUEUE_REVIEWER = "wei.chen"
LONG_CASE_SPECIALTY = "medical-oncology"
DEMO_CLOSED_MRN = "R-993105"  # the demo's closed referral (referrals/demo.py)

GOAL_VS_BASELINE_THROUGHPUT = 0.4
# Five interleaved rounds, not three: this machine's speed drifts by 15-25 % from one
# 10-second round to the next, and a median of three still moved the ratios by 0.05.
DEFAULT_ROUNDS = 5
# Claim pool of a round: room for this many times the claim warm-up's throughput (at least
# POOL_FLOOR_RPS when there was no warm-up). A slice used up stops its wrk thread and the
# round is flagged (slice_used_up); no referral is ever claimed twice.
POOL_HEADROOM = 3.0
POOL_FLOOR_RPS = 150.0
# POSTs per kind in the in-process query count: one warm-up, one counted, the rest timed.
POST_REPEATS = 7


# --- Forms ----------------------------------------------------------------------------------


def submit_fields(index: int) -> dict:
    """A valid referral form of submitter ``index`` (without the CSRF token and submission token)."""
    patients = [("Lotte Verhoeven", "W-700101"), ("Amadou Diallo", "W-700102"), ("Keiko Mori", "W-700103")]
    name, mrn = patients[index % len(patients)]
    return {
        "patient_name": name,
        "patient_mrn": mrn,
        "patient_dob": "1961-04-12",
        "specialty": SUBMIT_SPECIALTIES[index % len(SUBMIT_SPECIALTIES)],
        "urgency": "urgent" if index == 1 else "routine",
        "question": "Is surgery the right next step, or is surveillance reasonable for now?",
        "patient_consented": "on",
        "reason_category": "choose_treatment",
        "diagnosis": "",
        "icd10_code": "",
        "decision_needed_by": "",
        "records_location": "internal",
        "preferred_reviewer": "",
        "patient_phone": "",
        "preferred_language": "",
        "coverage": "insurance",
        "previous_referral": "",
    }


def form_body(csrf_token: str, fields: dict, *, token_field: str | None) -> str:
    body = urlencode({"csrfmiddlewaretoken": csrf_token, **fields})
    if token_field:
        body += f"&{token_field}={{TOKEN}}"  # wrk_post.lua puts a fresh UUID here on every request
    return body


def csrf_token_in(html: str) -> str | None:
    match = re.search(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"\s+name="csrfmiddlewaretoken"', html
    )
    return match.group(1) if match else None


def missing_form_fields(html: str, fields: dict) -> list[str]:
    missing = [f"field {name}" for name in fields if f'name="{name}"' not in html]
    if 'name="submission_token"' not in html:
        missing.append("field submission_token")
    slug = fields.get("specialty")
    if slug and f'value="{slug}"' not in html:
        missing.append(f"specialty option {slug!r}")
    return missing


def form_errors(html: str) -> str:
    found = re.findall(r'class="[^"]*(?:invalid-feedback|errorlist|alert-danger)[^"]*"[^>]*>(.*?)</', html, re.S)
    text = " | ".join(re.sub(r"<[^>]+>|\s+", " ", f).strip() for f in found if f.strip())
    return text[:500] or "no error message found on the page"


# --- Load configuration (read by wrk_post.lua and loadgen.py) -----------------------------------


def write_config(
    directory: Path,
    *,
    target: str,
    round_no: int,
    token_head: str,
    sessions: list[str],
    bodies: list[str],
    path: str = "-",
    slices: list[list[tuple[str, int]]] | None = None,
) -> Path:
    directory.mkdir(parents=True)
    meta = {
        "mode": "refs" if slices is not None else "token",
        "path": path,
        "token_head": token_head,
        "round": str(round_no),
        "kind": str(KIND_CODE[target]),
        "ok_location": OK_LOCATION_LUA[target],
    }
    (directory / "meta.txt").write_text("".join(f"{k} {v}\n" for k, v in meta.items()))
    (directory / "sessions.txt").write_text("".join(f"{s}\n" for s in sessions))
    (directory / "bodies.txt").write_text("".join(f"{b}\n" for b in bodies))
    for index, refs in enumerate(slices or []):
        (directory / f"refs-{index}.txt").write_text("".join(f"{ref} {session}\n" for ref, session in refs))
    return directory


def read_answers(directory: Path, target: str) -> dict:
    """What wrk_post.lua wrote: the statuses of non-2xx answers and the references successful redirects name."""
    statuses: Counter = Counter()
    success_refs: list[str] = []
    elsewhere: Counter = Counter()
    for path in sorted(directory.glob("out-*.txt")):
        for line in path.read_text().splitlines():
            status_text, _, location = line.partition(" ")
            status = int(status_text)
            statuses[status] += 1
            match = OK_LOCATION[target].match(location) if 300 <= status < 400 else None
            if match:
                if match.groups():
                    success_refs.append(match.group(1))
            elif 300 <= status < 400:
                elsewhere[location] += 1
    return {"statuses": statuses, "success_refs": success_refs, "redirects_elsewhere": elsewhere}


def parse_token(token: str):
    match = TOKEN_RE.match(str(token))
    if not match:
        return None
    head, round_no, tid, kind, seq = match.groups()
    return head, int(round_no, 16), int(tid, 16), int(kind, 16), int(seq, 16)


# --- Query counts of pages -------------------------------------------------------------------


def _details(details: list[dict]) -> list[dict]:
    return [{"ms": d["ms"], "at": d["at"], "sql": d["sql"][:220]} for d in details]


def _slowest(details: list[dict], n: int = 3) -> list[dict]:
    return sorted(_details(details), key=lambda d: -d["ms"])[:n]


def count_page(client, path: str, marker: str, *, repeats: int = 5) -> dict:
    """Queries of one GET in the test client, after a warm-up GET; an error entry when the page fails.

    Also the median time of ``repeats`` more GETs (in-process, no load: for
    spotting a slow page, not a throughput figure) and each counted
    statement's time and the project code that ran it.
    """
    try:
        warm = client.get(path)
    except Exception as exc:
        return {"error": f"GET {path} raised {type(exc).__name__}: {exc}", "traceback": _tail(exc)}
    if warm.status_code != 200:
        return {"error": f"GET {path} answered {warm.status_code} (Location {warm.get('Location')!r}), not 200"}
    try:
        response, statements, details = record_queries(lambda: client.get(path), details=True)
        walls = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.get(path)
            walls.append((time.perf_counter() - started) * 1000)
    except Exception as exc:
        return {"error": f"GET {path} raised {type(exc).__name__}: {exc}", "traceback": _tail(exc)}
    body = response.content.decode("utf-8", "replace")
    entry = {
        "status": response.status_code,
        "queries": len(statements),
        "ms_median_in_test_client": round(statistics.median(walls), 1) if walls else None,
        "sql_ms_of_counted_request": round(sum(d["ms"] for d in details), 2),
        "rows_shown": body.count('scope="row"'),
        "statements": statements,
        "statement_details": _details(details),
    }
    if response.status_code != 200:
        entry["error"] = f"GET {path} answered {response.status_code} the second time"
    elif marker not in body:
        entry["error"] = f"GET {path} answered 200 but without {marker!r}"
    return entry


def _tail(exc: BaseException) -> list[str]:
    return [line.rstrip() for line in traceback.format_exception(exc)[-6:]]


def count_post(client, requests: list[tuple[str, dict]]) -> dict:
    """Queries of one POST in the test client (Celery not eager: the notification is queued, not run).

    ``requests``: the first warms up, the second is counted (with each
    statement's time and origin), the rest are only timed.
    """
    from portal.celery import app as celery_app

    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    walls = []
    try:
        client.post(*requests[0])
        response, statements, details = record_queries(lambda: client.post(*requests[1]), details=True)
        for path, data in requests[2:]:
            started = time.perf_counter()
            client.post(path, data)
            walls.append((time.perf_counter() - started) * 1000)
    except Exception as exc:
        return {"error": f"POST {requests[1][0]} raised {type(exc).__name__}: {exc}", "traceback": _tail(exc)}
    finally:
        celery_app.conf.task_always_eager = eager
    entry = {
        "status": response.status_code,
        "location": response.get("Location"),
        "queries": len(statements),
        "ms_median_in_test_client": round(statistics.median(walls), 1) if walls else None,
        "sql_ms_of_counted_request": round(sum(d["ms"] for d in details), 2),
        "repeated_statements": repeated(statements),
        "slowest_statements": _slowest(details),
        "statement_details": _details(details),
    }
    if response.status_code != 302:
        entry["error"] = f"POST {requests[1][0]} answered {response.status_code}, not 302"
    return entry


class ActivitySampler(threading.Thread):
    """Samples pg_stat_activity of the bench database every 0.1 s during a round: who runs, who waits on a lock."""

    def __init__(self, args):
        super().__init__(daemon=True)
        self.args = args
        self.halt = threading.Event()
        self.samples = 0
        self.active = 0
        self.lock_waits: Counter = Counter()
        self.idle_in_transaction = 0
        self.error = None

    def run(self):
        import psycopg

        try:
            with psycopg.connect(
                host=self.args.pg_host, port=self.args.pg_port, user="postgres", dbname=self.args.db_name,
                autocommit=True,
            ) as conn:  # fmt: skip
                while not self.halt.wait(0.1):
                    rows = conn.execute(
                        "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'"
                    ).fetchall()
                    self.samples += 1
                    for state, wait_type, wait_event in rows:
                        if state == "active":
                            self.active += 1
                            if wait_type == "Lock":
                                self.lock_waits[wait_event] += 1
                        elif state == "idle in transaction":
                            self.idle_in_transaction += 1
        except Exception as exc:  # a missing sample must not stop the measurement
            self.error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> dict:
        self.halt.set()
        self.join(5)
        n = self.samples or 1
        return {
            "samples": self.samples,
            "mean_backends_active": round(self.active / n, 2),
            "mean_backends_waiting_on_a_lock": round(sum(self.lock_waits.values()) / n, 2),
            "lock_waits_by_event": dict(self.lock_waits),
            "mean_backends_idle_in_transaction": round(self.idle_in_transaction / n, 2),
            **({"error": self.error} if self.error else {}),
        }


# --- The suite ------------------------------------------------------------------------------------


class Failures(list):
    def add(self, where: str, what: str) -> None:
        log(f"FAILED {where}: {what}")
        self.append({"where": where, "what": what})


def run(args, tool, env, registry, tmp, services) -> dict:  # noqa: C901 - one linear script, in steps
    import django

    django.setup()
    import logging

    import redis
    from django.core.management import call_command
    from django.db import connection, connections

    from portal import demo
    from portal.models import Specialty, User
    from referrals.models import Referral
    from tests.benchmarks.views import INSERT_TABLE_SQL

    logging.getLogger().setLevel(logging.WARNING)
    failures = Failures()
    timings: dict[str, float] = {}

    # 1. Database, people, sign-in.
    t = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    timings["migrate_s"] = round(time.monotonic() - t, 1)
    log(f"migrated in {timings['migrate_s']} s")
    t = time.monotonic()
    call_command("seed_demo", stdout=io.StringIO())
    with connection.cursor() as cursor:
        cursor.execute(INSERT_TABLE_SQL)
    cast = referral_data.ensure_people(demo.DEMO_DOMAIN, f"{MAIN_REFERRER}@{demo.DEMO_DOMAIN}")
    people = {local: demo_user(local) for local in {*SUBMITTERS, *REVIEWERS, COORDINATOR, MAIN_REFERRER}}
    clients = {}
    for local, user in sorted(people.items()):
        clients[local] = sign_in(user, activate_totp(user))
    cookies = {local: session_cookie_of(client) for local, client in clients.items()}
    specialties = {s.slug: s for s in Specialty.objects.all()}
    reviewer_specialty = {}
    for local in REVIEWERS:
        ids = sorted(people[local].review_specialty_ids)
        if len(ids) != 1:
            raise BenchmarkError(f"{local} should review exactly one specialty, reviews {ids}")
        reviewer_specialty[local] = ids[0]
    timings["seed_and_sign_in_s"] = round(time.monotonic() - t, 1)
    log(f"seeded and signed in {len(clients)} people in {timings['seed_and_sign_in_s']} s")

    # 2. The long case, 1,000 referrals, query counts.
    t = time.monotonic()
    other_oncology_reviewer = next(
        uid
        for uid in cast.reviewers_by_specialty[specialties[LONG_CASE_SPECIALTY].pk]
        if uid != people[QUEUE_REVIEWER].pk
    )
    try:
        long_ref = referral_data.long_case(
            referrer=people[MAIN_REFERRER],
            coordinator=people[COORDINATOR],
            reviewer=people[QUEUE_REVIEWER],
            other_reviewer=User.objects.get(pk=other_oncology_reviewer),
            specialty=specialties[LONG_CASE_SPECIALTY],
        )
    except Exception as exc:
        failures.add("long case through the services", f"{type(exc).__name__}: {exc}")
        long_ref = None
    closed_demo = Referral.objects.filter(patient_mrn=DEMO_CLOSED_MRN).values_list("reference", flat=True).first()
    referral_data.grow_to(args.referrals_small, cast=cast, seed=1)
    referral_data.analyze()
    timings["build_small_s"] = round(time.monotonic() - t, 1)
    reviewer_specialty_ids = sorted(reviewer_specialty.values())
    sizes_small = referral_data.sizes(
        main_referrer_id=people[MAIN_REFERRER].pk, reviewer_specialty_ids=reviewer_specialty_ids
    )
    log(f"{sizes_small['referrals']} referrals in {timings['build_small_s']} s")

    pages = {
        "review_queue": (QUEUE_REVIEWER, "/review/", "Review queue"),
        "coordinator_board": (COORDINATOR, "/coordinator/", "Coordinator board"),
        "my_referrals": (MAIN_REFERRER, "/referrals/mine/", "My referrals"),
        "referral_detail": (COORDINATOR, f"/referrals/{long_ref}/", f"Referral {long_ref}"),
        "referral_detail_closed": (COORDINATOR, f"/referrals/{closed_demo}/", f"Referral {closed_demo}"),
    }
    if long_ref is None:
        pages.pop("referral_detail")
    if closed_demo is None:
        failures.add("referral_detail_closed", "the demo's closed referral is missing")
        pages.pop("referral_detail_closed")
    counts_small = {name: count_page(clients[who], path, marker) for name, (who, path, marker) in pages.items()}
    for name, entry in counts_small.items():
        if "error" in entry:
            failures.add(f"{name} at {args.referrals_small}", entry["error"])
    log("queries at " + f"{sizes_small['referrals']}: " + ", ".join(
        f"{name} {entry.get('queries', 'ERROR')}" for name, entry in counts_small.items()
    ))  # fmt: skip

    # The claim pool's first slice (warm-up, and two referrals for the POST query counts).
    run_head = secrets.token_hex(4)
    reviewer_sessions = {local: i + 1 for i, local in enumerate(REVIEWERS)}  # session index in sessions.txt
    session_of_specialty = {reviewer_specialty[local]: reviewer_sessions[local] for local in REVIEWERS}
    pool_seed = [1000]

    def make_pool(count: int) -> list[tuple[str, int]]:
        """``count`` accepted referrals, round-robin over the reviewers' specialties: [(reference, session)]."""
        pool_seed[0] += 1
        made = referral_data.bulk_referrals(
            count,
            cast=cast,
            seed=pool_seed[0],
            statuses={"accepted": 1},
            specialty_ids=reviewer_specialty_ids,
            open_within_days=10,
        )
        by_session: dict[int, list[str]] = {}
        for ref, specialty_id in made:
            by_session.setdefault(session_of_specialty[specialty_id], []).append(ref)
        interleaved = []
        queues = [list(reversed(refs)) for _, refs in sorted(by_session.items())]
        sessions = [s for s, _ in sorted(by_session.items())]
        while any(queues):
            for session, queue in zip(sessions, queues, strict=True):
                if queue:
                    interleaved.append((queue.pop(), session))
        return interleaved

    n_slices = args.wrk_threads if tool == "wrk" else args.concurrency

    def slices_of(pool: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
        return [pool[i::n_slices] for i in range(n_slices)]

    t = time.monotonic()
    warm_pool = make_pool(max(1000, math.ceil(args.warmup * 1200)) + 20)
    post_claim_refs = [ref for ref, session in warm_pool if session == reviewer_sessions[QUEUE_REVIEWER]][:POST_REPEATS]
    warm_pool = [pair for pair in warm_pool if pair[0] not in post_claim_refs]
    log(f"warm-up claim pool: {len(warm_pool)} accepted referrals in {time.monotonic() - t:.1f} s")

    # Query counts of one POST of each kind (in-process; the notification queued, not run).
    request_counts = {
        "baseline_post": count_post(
            clients[SUBMITTERS[0]], [(INSERT_PATH, {"token": str(uuid.uuid4())}) for _ in range(POST_REPEATS)]
        ),
        "submit_post": count_post(
            clients[SUBMITTERS[0]],
            [(SUBMIT_PATH, {**submit_fields(0), "submission_token": str(uuid.uuid4())}) for _ in range(POST_REPEATS)],
        ),
    }
    if len(post_claim_refs) >= 2:
        request_counts["claim_post"] = count_post(
            clients[QUEUE_REVIEWER], [(f"/referrals/{ref}/claim/", {}) for ref in post_claim_refs]
        )
    for name, entry in request_counts.items():
        if "error" in entry:
            failures.add(name, entry["error"])
    log("queries per POST: " + ", ".join(f"{k} {v.get('queries', 'ERROR')}" for k, v in request_counts.items()))
    db_vendor = connection.vendor
    connections.close_all()

    # 3. gunicorn with a real broker: the request queues the notification, nothing runs it.
    celery_queue = env["BENCH_CELERY_QUEUE"]
    server_env = {**env, "BENCH_CELERY_EAGER": "false"}
    port = free_port()
    server = start_gunicorn(
        registry, settings_module=SETTINGS_FULL, port=port, env=server_env, args=args, log_path=tmp / "full.log"
    )
    # Probed on the trivial view (a 302 to sign-in without a cookie): /health/ answers 503 here, as no
    # Celery worker answers its ping (on purpose: nothing executes the queued notifications).
    wait_until_serving(server, port, INSERT_REDIRECT)
    log(f"gunicorn up on :{port} ({describe_workers(args)}), Celery queue {celery_queue} on Redis db {args.redis_db}")
    queue_client = redis.Redis(host=args.redis_host, port=args.redis_port, db=args.redis_db, socket_timeout=5)

    # A CSRF cookie and token, as a browser gets them from the referral form.
    csrf_cookie = csrf_token = None
    form_html = ""
    for local, path in ((SUBMITTERS[0], SUBMIT_PATH), (COORDINATOR, "/coordinator/")):
        status, html, location, set_cookies = http_request(port, "GET", path, cookies[local])
        if status != 200:
            failures.add(f"GET {path} via gunicorn", f"answered {status} (Location {location!r})")
            continue
        csrf_cookie, csrf_token = csrf_cookie_from(set_cookies), csrf_token_in(html)
        if path == SUBMIT_PATH:
            form_html = html
        if csrf_cookie and csrf_token:
            break
    if not (csrf_cookie and csrf_token):
        raise BenchmarkError("no page gave a CSRF cookie and token (GET /refer/ and /coordinator/ failed)")
    full_cookies = {local: f"{cookie}; {csrf_cookie}" for local, cookie in cookies.items()}
    submit_sessions = [full_cookies[local] for local in SUBMITTERS]
    submit_bodies = [form_body(csrf_token, submit_fields(i), token_field="submission_token") for i in range(3)]
    baseline_bodies = [form_body(csrf_token, {}, token_field="token") for _ in SUBMITTERS]
    claim_sessions = [full_cookies[local] for local in REVIEWERS]
    claim_bodies = [form_body(csrf_token, {}, token_field=None) for _ in REVIEWERS]

    # 4a. Each target once through gunicorn, before anything is measured.
    working = {target: True for target in TARGETS}
    if form_html:
        missing = missing_form_fields(form_html, submit_fields(0))
        if missing:
            failures.add("the referral form", "GET /refer/ has no " + ", ".join(missing))
    status, html, location, _ = http_request(
        port, "POST", INSERT_PATH, full_cookies[SUBMITTERS[0]], f"csrfmiddlewaretoken={csrf_token}&token={uuid.uuid4()}"
    )
    if status != 302 or location != INSERT_REDIRECT:
        working["baseline"] = False
        failures.add("baseline POST via gunicorn", f"answered {status} (Location {location!r}): {html[:300]}")
    token = uuid.uuid4()
    body = urlencode({"csrfmiddlewaretoken": csrf_token, **submit_fields(0), "submission_token": str(token)})
    status, html, location, _ = http_request(port, "POST", SUBMIT_PATH, full_cookies[SUBMITTERS[0]], body)
    match = OK_LOCATION["submit"].match(location or "")
    if status != 302 or not match:
        working["submit"] = False
        why = form_errors(html) if status == 200 else html[:300]
        failures.add("submit POST /refer/ via gunicorn", f"answered {status} (Location {location!r}): {why}")
    else:
        again = http_request(port, "POST", SUBMIT_PATH, full_cookies[SUBMITTERS[0]], body)
        if again[0] != 302 or again[2] != location:
            failures.add("double submit (same token)", f"answered {again[0]} (Location {again[2]!r}), not {location}")
        shown = http_request(port, "GET", location, full_cookies[SUBMITTERS[0]])
        if shown[0] != 200:
            failures.add(f"GET {location} via gunicorn", f"answered {shown[0]} (Location {shown[2]!r})")
    sanity_ref, sanity_session = warm_pool.pop()
    reviewer_local = REVIEWERS[sanity_session - 1]
    status, html, location, _ = http_request(
        port,
        "POST",
        f"/referrals/{sanity_ref}/claim/",
        full_cookies[reviewer_local],
        f"csrfmiddlewaretoken={csrf_token}",
    )
    if status != 302 or location != f"/referrals/{sanity_ref}/":
        working["claim"] = False
        text = re.sub(r"<[^>]+>|\s+", " ", html)[:300]
        failures.add(
            f"claim POST /referrals/{sanity_ref}/claim/ via gunicorn",
            f"answered {status} (Location {location!r}): {text}",
        )
    measured = [target for target in TARGETS if working[target]]
    log("checked through gunicorn: " + ", ".join(f"{t} {'ok' if working[t] else 'BROKEN'}" for t in TARGETS))

    config_root = tmp / "load"
    pools: dict[int, list[tuple[str, int]]] = {}
    answers: dict[tuple[int, str], dict] = {}

    def load(target: str, round_no: int, duration: float) -> dict:
        directory = config_root / f"{round_no}-{target}"
        if target == "claim":
            config = write_config(
                directory,
                target=target,
                round_no=round_no,
                token_head=run_head,
                sessions=claim_sessions,
                bodies=claim_bodies,
                slices=slices_of(pools[round_no]),
            )
        else:
            config = write_config(
                directory,
                target=target,
                round_no=round_no,
                token_head=run_head,
                sessions=submit_sessions,
                bodies=submit_bodies if target == "submit" else baseline_bodies,
                path=SUBMIT_PATH if target == "submit" else INSERT_PATH,
            )
        sampler = ActivitySampler(args)
        sampler.start()
        cpu_before, postgres_before = worker_cpu_seconds(server.pid), postgres_cpu_seconds()
        try:
            figures = run_load(
                registry,
                tool,
                f"http://127.0.0.1:{port}/",
                None,
                args,
                duration,
                script=WRK_POST_SCRIPT,
                script_args=[str(config)],
                python_args=["--post-config", str(config)],
            )
        finally:
            activity = sampler.stop()
        workers_cpu_s = sorted(cpu_seconds_between(cpu_before, worker_cpu_seconds(server.pid)).values(), reverse=True)
        postgres_cpu_s = round(sum(cpu_seconds_between(postgres_before, postgres_cpu_seconds()).values()), 2)
        answers[(round_no, target)] = read_answers(config, target)
        requests = max(figures["requests"], 1)
        return {
            **figures,
            "db_activity": activity,
            "gunicorn_workers_cpu_s": workers_cpu_s,
            "postgres_cpu_s": postgres_cpu_s,
            "cpu_ms_per_request": {
                "gunicorn": round(sum(workers_cpu_s) / requests * 1000, 2),
                "postgres": round(postgres_cpu_s / requests * 1000, 2),
            },
        }

    queued_before = queue_client.llen(celery_queue)
    warm_figures = {}
    pools[0] = warm_pool
    if args.warmup > 0:
        for target in measured:
            warm_figures[target] = load(target, 0, args.warmup)
        log(
            f"warmed up ({args.warmup:g} s per target): "
            + ", ".join(f"{k} {v['rps']:.0f} req/s" for k, v in warm_figures.items())
        )

    # 4b. The claim pool of every round, sized from the claim warm-up.
    t = time.monotonic()
    claim_rps = warm_figures["claim"]["rps"] if "claim" in warm_figures else 0.0
    per_round = math.ceil(POOL_HEADROOM * max(claim_rps, POOL_FLOOR_RPS) * args.duration) + 500
    if "claim" in measured:
        for number in range(1, args.rounds + 1):
            pools[number] = make_pool(per_round)
        referral_data.analyze()
        connections.close_all()
    timings["claim_pools_s"] = round(time.monotonic() - t, 1)
    log(f"claim pools: {args.rounds} x {per_round} accepted referrals in {timings['claim_pools_s']} s")

    rounds = []
    for number in range(1, args.rounds + 1):
        for target in measured:
            figures = load(target, number, args.duration)
            rounds.append({"round": number, "target": target, **figures})
            post, activity = figures["post"], figures["db_activity"]
            log(
                f"round {number} {target:8} {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:7.2f} ms  "
                f"p95 {figures['p95_ms']:7.2f} ms  failed {figures['status_other']} (409: {post['status_409']})  "
                f"errors {figures['socket_errors']}  lock waiters {activity['mean_backends_waiting_on_a_lock']}  "
                f"worker CPU s {figures['gunicorn_workers_cpu_s']}  CPU ms/request {figures['cpu_ms_per_request']}"
            )

    server_log = stop_server(registry, server)  # graceful: requests cut off by wrk's stop finish first
    queued_after = queue_client.llen(celery_queue)

    # 5. Rows against answers.
    checks = verify(
        run_head=run_head,
        rounds=rounds,
        warm_figures=warm_figures,
        answers=answers,
        pools=pools,
        reviewer_ids={i + 1: people[local].pk for i, local in enumerate(REVIEWERS)},
        queued=queued_after - queued_before,
    )
    connections.close_all()
    log(
        "checks: "
        + ", ".join(
            f"{k} {'ok' if v['ok'] else 'FAILED'}" for k, v in checks.items() if isinstance(v, dict) and "ok" in v
        )
    )
    sizes_after_load = referral_data.sizes(
        main_referrer_id=people[MAIN_REFERRER].pk, reviewer_specialty_ids=reviewer_specialty_ids
    )

    # 6. 100,000 referrals, query counts again.
    t = time.monotonic()
    added = referral_data.grow_to(args.referrals_large, cast=cast, seed=2)
    referral_data.analyze()
    timings["build_large_s"] = round(time.monotonic() - t, 1)
    sizes_large = referral_data.sizes(
        main_referrer_id=people[MAIN_REFERRER].pk, reviewer_specialty_ids=reviewer_specialty_ids
    )
    log(f"{sizes_large['referrals']} referrals ({added} bulk-inserted) in {timings['build_large_s']} s")
    counts_large = {name: count_page(clients[who], path, marker) for name, (who, path, marker) in pages.items()}
    for name, entry in counts_large.items():
        if "error" in entry:
            failures.add(f"{name} at {args.referrals_large}", entry["error"])
    log("queries at " + f"{sizes_large['referrals']}: " + ", ".join(
        f"{name} {entry.get('queries', 'ERROR')}" for name, entry in counts_large.items()
    ))  # fmt: skip
    connections.close_all()

    return report(
        args=args,
        tool=tool,
        services=services,
        db_vendor=db_vendor,
        people=people,
        rounds=rounds,
        warm_figures=warm_figures,
        measured=measured,
        checks=checks,
        request_counts=request_counts,
        pages=pages,
        counts_small=counts_small,
        counts_large=counts_large,
        sizes={"small": sizes_small, "after_load": sizes_after_load, "large": sizes_large},
        timings=timings,
        failures=failures,
        celery_queue=celery_queue,
        per_round_pool=per_round,
        server_log=server_log,
    )


# --- Checking rows against answers ------------------------------------------------------------------


def _successes(figures: dict) -> int:
    post = figures["post"]
    return post["status_2xx"] + post["status_3xx_expected"]


def verify(*, run_head, rounds, warm_figures, answers, pools, reviewer_ids, queued) -> dict:
    """Every successful answer has exactly its row; nothing else was written twice."""
    from django.db import connection

    like = f"{run_head}-%"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.id, r.reference, r.submission_token::text, r.status,"
            " (SELECT count(*) FROM referrals_referralevent e WHERE e.referral_id = r.id AND e.kind = 'created')"
            " FROM referrals_referral r WHERE r.submission_token::text LIKE %s",
            [like],
        )
        submitted = cursor.fetchall()
        cursor.execute("SELECT token::text FROM bench_insert WHERE token::text LIKE %s", [like])
        inserted = [row[0] for row in cursor.fetchall()]
        all_pool = [ref for pool in pools.values() for ref, _ in pool]
        cursor.execute(
            "SELECT r.reference, r.status, r.reviewer_id,"
            " (SELECT count(*) FROM referrals_referralevent e WHERE e.referral_id = r.id AND e.action = 'claim')"
            " FROM referrals_referral r WHERE r.reference = ANY(%s)",
            [all_pool],
        )
        pool_rows = {ref: (status, reviewer, claims) for ref, status, reviewer, claims in cursor.fetchall()}
        cursor.execute(
            "SELECT count(*) FROM (SELECT reference FROM referrals_referral GROUP BY reference HAVING count(*) > 1) d"
        )
        duplicate_references = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT submission_token FROM referrals_referral"
            " GROUP BY submission_token HAVING count(*) > 1) d"
        )
        duplicate_tokens = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT referral_id FROM referrals_referralevent WHERE action = 'claim'"
            " GROUP BY referral_id HAVING count(*) > 1) d"
        )
        claimed_twice = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT referral_id FROM referrals_referralevent WHERE kind = 'created'"
            " GROUP BY referral_id HAVING count(*) > 1) d"
        )
        created_twice = cursor.fetchone()[0]

    created_by_round: dict[int, dict[str, tuple]] = {}
    for _rid, reference, token, status, created_events in submitted:
        parsed = parse_token(token)
        if parsed and parsed[3] == KIND_CODE["submit"]:
            created_by_round.setdefault(parsed[1], {})[reference] = (status, created_events)
    inserted_by_round = Counter(p[1] for p in map(parse_token, inserted) if p and p[3] == KIND_CODE["baseline"])

    per_round = []
    figures_of = {(0, t): f for t, f in warm_figures.items()}
    figures_of.update({(r["round"], r["target"]): r for r in rounds})
    claim_events_in_load = 0
    for (round_no, target), figures in sorted(figures_of.items(), key=lambda kv: (kv[0][0], TARGETS.index(kv[0][1]))):
        post = figures["post"]
        got = answers.get((round_no, target), {"statuses": Counter(), "success_refs": [], "redirects_elsewhere": {}})
        successes = _successes(figures)
        unanswered = post["sent"] - post["received"]
        entry = {
            "round": round_no if round_no else "warm-up",
            "target": target,
            "sent": post["sent"],
            "answered": post["received"],
            "successes": successes,
            "failed_answers": figures["status_other"],
            "status_409": post["status_409"],
            "other_statuses": {str(k): v for k, v in sorted(got["statuses"].items()) if not 300 <= k < 400},
            "redirects_elsewhere": dict(got["redirects_elsewhere"]),
            "unanswered_when_wrk_stopped": unanswered,
        }
        if target == "baseline":
            rows = inserted_by_round.get(round_no, 0)
            entry.update(rows=rows, cut_off=rows - successes)
            entry["ok"] = 0 <= rows - successes <= unanswered
        elif target == "submit":
            created = created_by_round.get(round_no, {})
            refs = got["success_refs"]
            not_created = [r for r in refs if r not in created]
            bad_events = sum(1 for status, n in created.values() if n != 1)
            entry.update(
                rows=len(created),
                cut_off=len(created) - len(refs),
                answers_naming_the_same_referral=len(refs) - len(set(refs)),
                answers_naming_no_row_of_this_round=len(not_created),
                referrals_without_exactly_one_created_event=bad_events,
            )
            entry["ok"] = (
                len(refs) == successes
                and len(set(refs)) == len(refs)
                and not not_created
                and not bad_events
                and 0 <= len(created) - len(refs) <= unanswered
            )
        else:
            pool = pools.get(round_no, [])
            claimed = {ref for ref, _ in pool if pool_rows.get(ref, ("",))[0] == "claimed"}
            wrong_reviewer = sum(
                1 for ref, session in pool if ref in claimed and pool_rows[ref][1] != reviewer_ids[session]
            )
            bad_events = sum(
                1 for ref, _ in pool if pool_rows.get(ref) and pool_rows[ref][2] != (1 if ref in claimed else 0)
            )
            refs = got["success_refs"]
            not_claimed = [r for r in refs if r not in claimed]
            claim_events_in_load += len(claimed)
            entry.update(
                pool=len(pool),
                rows=len(claimed),
                cut_off=len(claimed) - len(refs),
                answers_naming_the_same_referral=len(refs) - len(set(refs)),
                answers_naming_an_unclaimed_referral=len(not_claimed),
                claimed_by_another_reviewer=wrong_reviewer,
                referrals_with_wrong_claim_event_count=bad_events,
                slice_used_up=post["exhausted_calls"] > 0,
            )
            entry["ok"] = (
                len(refs) == successes
                and len(set(refs)) == len(refs)
                and not not_claimed
                and not wrong_reviewer
                and not bad_events
                and 0 <= len(claimed) - len(refs) <= unanswered
            )
        per_round.append(entry)

    created_events_in_load = sum(n for by_ref in created_by_round.values() for _, n in by_ref.values())
    expected_queued = created_events_in_load + claim_events_in_load
    totals = {
        target: {
            "successes": sum(e["successes"] for e in per_round if e["target"] == target),
            "rows": sum(e["rows"] for e in per_round if e["target"] == target),
            "failed_answers": sum(e["failed_answers"] for e in per_round if e["target"] == target),
            "status_409": sum(e["status_409"] for e in per_round if e["target"] == target),
            "cut_off": sum(e["cut_off"] for e in per_round if e["target"] == target),
        }
        for target in TARGETS
    }
    return {
        "note": (
            "Per round (warm-up included), rows written for that round's tokens or claim slice against the "
            "answers: successes = 2xx + 302 to the expected page; every successful answer names its own row "
            "(submit/claim: the reference in Location); rows - successes = requests wrk cut off at the end of "
            "the round, which the server finished (at most the requests sent but unanswered). wrk's first "
            "request() call of thread 0 only checks the script and is never sent, so 'sent' is one high."
        ),
        "per_round": per_round,
        "totals": totals,
        "rows_match_answers": {"ok": all(e["ok"] for e in per_round)},
        "no_duplicate_rows": {
            "ok": not (duplicate_references or duplicate_tokens or claimed_twice or created_twice),
            "duplicate_references": duplicate_references,
            "duplicate_submission_tokens": duplicate_tokens,
            "referrals_with_more_than_one_claim_event": claimed_twice,
            "referrals_with_more_than_one_created_event": created_twice,
        },
        "notifications_queued": {
            "ok": queued == expected_queued,
            "queued_during_load": queued,
            "events_written_during_load": expected_queued,
            "note": "one Celery message per ReferralEvent (delay_on_commit), left in the queue: no worker runs",
        },
    }


# --- The report ------------------------------------------------------------------------------------


def rps_by_round(rounds: list[dict], target: str) -> list[float | None]:
    """For information: each round's throughput against the baseline round measured just before it."""
    baseline = {r["round"]: r["rps"] for r in rounds if r["target"] == "baseline"}
    return [ratio(r["rps"], baseline.get(r["round"], 0)) for r in rounds if r["target"] == target]


def _page_entry(name, small, large, sizes) -> dict:
    entry = {
        "small": {k: v for k, v in small.items() if k != "statements"},
        "large": {k: v for k, v in large.items() if k != "statements"},
    }
    if "queries" in small and "queries" in large:
        entry["referrals_small"] = sizes["small"]["referrals"]
        entry["referrals_large"] = sizes["large"]["referrals"]
        entry["grew"] = large["queries"] > small["queries"]
        entry["repeated_statements_small"] = repeated(small["statements"])
        entry["repeated_statements_large"] = repeated(large["statements"])
        entry["extra_statements_large"] = extra_statements(large["statements"], small["statements"])
        entry["statements_small"] = small["statements"]
    return entry


def report(
    *,
    args,
    tool,
    services,
    db_vendor,
    people,
    rounds,
    warm_figures,
    measured,
    checks,
    request_counts,
    pages,
    counts_small,
    counts_large,
    sizes,
    timings,
    failures,
    celery_queue,
    per_round_pool,
    server_log,
) -> dict:
    medians = {target: median_of(rounds, target) for target in measured}
    ratios = {}
    if "baseline" in medians:
        for target in ("submit", "claim"):
            if target in medians:
                ratios[f"{target}_vs_baseline"] = ratios_against(medians[target], medians["baseline"])
                ratios[f"{target}_vs_baseline"]["rps_by_round"] = rps_by_round(rounds, target)
    query_counts = {
        name: _page_entry(name, counts_small[name], counts_large.get(name, {"error": "not measured"}), sizes)
        for name in counts_small
    }
    query_counts["who_and_where"] = {name: {"as": who, "path": path} for name, (who, path, _) in pages.items()}
    goals = {}
    for target in ("submit", "claim"):
        value = ratios.get(f"{target}_vs_baseline", {}).get("rps")
        goals[f"{target}_throughput_at_least_0_4_of_baseline"] = {
            "description": f"{target} requests/s >= 0.4 x the one-row-insert POST's (medians)",
            "threshold": GOAL_VS_BASELINE_THROUGHPUT,
            "value": value,
            "goal_met": value is not None and value >= GOAL_VS_BASELINE_THROUGHPUT,
        }
    failed_answers = {t: checks["totals"][t]["failed_answers"] for t in TARGETS}
    goals["zero_failed_answers"] = {
        "description": "no answer but 2xx or a 302 to the expected page, warm-up included (409s count as failed)",
        "value": failed_answers,
        "goal_met": all(v == 0 for v in failed_answers.values()) and set(measured) == set(TARGETS),
    }
    goals["zero_duplicate_rows"] = {
        "description": "rows == successful answers (+ requests cut off by wrk's stop), no reference/token twice, "
        "one CREATED event per referral, one CLAIM event per claimed referral, one queued notification per event",
        "goal_met": checks["rows_match_answers"]["ok"]
        and checks["no_duplicate_rows"]["ok"]
        and checks["notifications_queued"]["ok"],
    }
    same = {name: entry.get("grew") is False for name, entry in query_counts.items() if name != "who_and_where"}
    goals["query_counts_same_at_large"] = {
        "description": f"each page's SQL queries at {args.referrals_large} referrals == at {args.referrals_small}",
        "value": {
            name: [counts_small[name].get("queries"), counts_large.get(name, {}).get("queries")]
            for name in counts_small
        },
        "goal_met": all(same.values()) and bool(same),
    }
    bad_rounds = [
        r
        for r in rounds
        if r["socket_errors"] or not r["requests"] or r["post"]["exhausted_calls"] or r["status_other"]
    ]
    return {
        "benchmark": "referral submit and claim vs a one-row-insert POST; referral page query counts "
        f"at {args.referrals_small} and {args.referrals_large} referrals",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": {
            **environment(args, services, db_vendor),
            "gunicorn": gunicorn_description(
                args,
                {
                    "full": f"{SETTINGS_FULL} (full middleware): baseline POST {INSERT_PATH}, "
                    f"submit POST {SUBMIT_PATH}, claim POST /referrals/<reference>/claim/",
                },
            ),
            "celery": {
                "mode": "real broker, no worker: each request queues its notification (delay_on_commit) and "
                "nothing executes it, so the measure is the request's own work",
                "broker": f"redis://{args.redis_host}:{args.redis_port}/{args.redis_db}",
                "queue": celery_queue,
                "task_always_eager": False,
            },
            "load_generator": {
                "tool": tool_version(tool),
                "script": "wrk_post.lua" if tool == "wrk" else "loadgen.py --post-config",
                "threads": args.wrk_threads if tool == "wrk" else args.concurrency,
                "concurrency": args.concurrency,
                "seconds_per_round": args.duration,
                "warmup_seconds_per_target": args.warmup,
                "rounds": args.rounds,
                "order": "interleaved: " + ", ".join(measured) + ", ...",
                "claim_pool_per_round": per_round_pool,
            },
            "signed_in_as": {
                "baseline_and_submit": [people[p].email for p in SUBMITTERS],
                "claim": [people[p].email for p in REVIEWERS],
                "queries": {name: people[who].email for name, (who, _, _) in pages.items()},
                "two_factor": "TOTP",
            },
        },
        "success_counting": (
            "a success is a 2xx or a 302 whose Location is the expected page: /referrals/<reference>/ for submit "
            f"and claim, {INSERT_REDIRECT} for the baseline. Anything else is a failed answer: another status, a 409 "
            "(counted apart too), or a redirect elsewhere (e.g. to sign-in). Latency and requests/s count every answer."
        ),
        "rounds": rounds,
        "warmup": warm_figures,
        "medians": medians,
        "ratios": ratios,
        "ratio_note": (
            "rps ratio = target/baseline throughput (a fraction); p50/p95 ratio = target/baseline latency (a multiple)"
        ),
        "checks": checks,
        "request_query_counts": request_counts,
        "query_counts": query_counts,
        "data": {**sizes, "timings": timings},
        "goals": goals,
        "all_goals_met": all(g["goal_met"] for g in goals.values()),
        "valid": not bad_rounds and set(measured) == set(TARGETS) and not failures,
        "invalid_rounds": bad_rounds,
        "failures": list(failures),
        "server_log_tail": server_log,
    }


def summarise(report: dict) -> None:
    for target, m in report["medians"].items():
        log(f"median {target:8} {m['rps']:8.1f} req/s  p50 {m['p50_ms']:7.2f} ms  p95 {m['p95_ms']:7.2f} ms")
    for name, r in report["ratios"].items():
        log(f"{name}: throughput {r['rps']}, p50 x{r['p50']}, p95 x{r['p95']}")
    for name, goal in report["goals"]["query_counts_same_at_large"]["value"].items():
        log(f"queries {name:24} {goal[0]} -> {goal[1]}")
    for failure in report["failures"]:
        print(f"benchmark FAILURE: {failure['where']}: {failure['what']}", file=sys.stderr)
    if not report["valid"]:
        print("benchmark WARNING: see failures and invalid_rounds", file=sys.stderr)
    missed = [name for name, goal in report["goals"].items() if not goal["goal_met"]]
    if missed:
        print(f"benchmark GOAL MISSED: {', '.join(missed)}", file=sys.stderr)
    else:
        print("benchmark: all goals met", file=sys.stderr)
