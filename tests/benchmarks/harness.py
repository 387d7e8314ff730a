"""What every benchmark suite shares: processes, services, the throw-away database,
signing in, counting queries, gunicorn, the load generator and the statistics.

Nothing here knows about a particular page; ``suite_home`` and
``suite_referrals`` use these pieces and ``run`` picks the suite.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

RESULTS_DIR = HERE / "results"
WRK_SCRIPT = HERE / "wrk_report.lua"
WRK_POST_SCRIPT = HERE / "wrk_post.lua"
SETTINGS_FULL = "tests.benchmarks.settings"
SETTINGS_BARE = "tests.benchmarks.settings_bare"


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

    def start(self, args, *, stop_timeout: float = 10.0, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(args, start_new_session=True, **kwargs)
        process.stop_timeout = stop_timeout
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen, timeout: float | None = None) -> None:
        if process.poll() is not None:
            return
        timeout = getattr(process, "stop_timeout", 10.0) if timeout is None else timeout
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


def raise_keyboard_interrupt(signum, frame):
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


def create_database_if_missing(pg_host: str, pg_port: int, name: str) -> bool:
    """Create the database unless it exists (the volume database is kept between runs); True when created."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=pg_host, port=pg_port, user="postgres", dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def drop_database(pg_host: str, pg_port: int, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=pg_host, port=pg_port, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def clear_cache_keys(redis_host: str, redis_port: int, db: int, prefix: str) -> int:
    """Delete only this benchmark's keys (its cache key prefix) from its Redis db."""
    return delete_redis_keys(redis_host, redis_port, db, f"{prefix}:*")


def delete_redis_keys(redis_host: str, redis_port: int, db: int, pattern: str) -> int:
    import redis

    client = redis.Redis(host=redis_host, port=redis_port, db=db, socket_timeout=3)
    deleted = 0
    batch = []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


# --- People and signing in ---------------------------------------------------------


def demo_user(email_local: str):
    from portal import demo
    from portal.models import User

    person = next(p for p in demo.PEOPLE if p.email_local == email_local)
    return User.objects.get(email=demo.demo_email(person))


def activate_totp(user) -> str:
    """Give ``user`` a real TOTP authenticator (allauth's own activation); return the secret."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


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


def session_cookie_of(client) -> str:
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def csrf_cookie_from(set_cookies: list[str]) -> str | None:
    """The ``name=value`` of the CSRF cookie among a response's Set-Cookie headers."""
    from django.conf import settings

    for header in set_cookies:
        name, _, rest = header.partition("=")
        if name.strip() == settings.CSRF_COOKIE_NAME:
            return f"{settings.CSRF_COOKIE_NAME}={rest.split(';', 1)[0]}"
    return None


# --- Counting queries ------------------------------------------------------------------


class QueryRecorder:
    """Records each statement at the cursor; with ``details``, also its time and the project code that ran it."""

    def __init__(self, *, details: bool = False):
        self.statements: list[str] = []
        self.details: list[dict] | None = [] if details else None

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        if self.details is None:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.details.append(
                {"ms": round((time.perf_counter() - started) * 1000, 3), "at": project_frames(), "sql": sql}
            )


def project_frames(limit: int = 3) -> str:
    """The innermost frames of the project's own code on the stack (not its libraries, not the benchmarks)."""
    import traceback

    frames = []
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = Path(frame.filename)
        try:
            relative = path.resolve().relative_to(REPO)
        except ValueError:
            continue
        if relative.parts[0] in (".venv", "tests"):
            continue
        frames.append(f"{relative}:{frame.lineno} {frame.name}")
        if len(frames) == limit:
            break
    return " < ".join(frames)


def record_queries(action, *, details: bool = False):
    """Run ``action()`` with every SQL statement recorded at the cursor; return (result, statements).

    With ``details``, return (result, statements, details): per statement its
    time in ms and where in the project's code it was run.
    """
    from django.db import connection

    recorder = QueryRecorder(details=details)
    with connection.execute_wrapper(recorder):
        result = action()
    if details:
        return result, recorder.statements, recorder.details
    return result, recorder.statements


def repeated(statements: list[str]) -> list[dict]:
    return [{"count": n, "sql": sql} for sql, n in Counter(statements).most_common() if n > 1]


def extra_statements(more: list[str], fewer: list[str]) -> list[dict]:
    return [{"count": n, "sql": sql} for sql, n in (Counter(more) - Counter(fewer)).most_common()]


# --- Servers -----------------------------------------------------------------------


def http_request(port: int, method: str, path: str, cookie: str | None, body: str | None = None, timeout: float = 30.0):
    """One request to 127.0.0.1:port; returns (status, body text, Location, Set-Cookie headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body.encode() if body is not None else None, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, text, response.getheader("Location"), response.msg.get_all("Set-Cookie") or []
    finally:
        conn.close()


def http_get(port: int, path: str, cookie: str | None, timeout: float = 30.0):
    return http_request(port, "GET", path, cookie, timeout=timeout)


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
        # Each worker listens on a socket of its own and the kernel spreads new
        # connections over them. On one shared socket, the worker that wakes
        # first can take all eight of wrk's kept-alive connections for the
        # whole round (seen: 9.5 CPU seconds on one worker, 0.01 on the other),
        # and the round measures one core instead of two.
        "--reuse-port",
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


def _cpu_seconds_of(pid) -> tuple[str, float] | None:
    """(command name, user + system CPU seconds so far) of one process, or None once it has gone."""
    try:
        head, tail = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    except OSError:
        return None
    fields = tail.split()
    return head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_cpu_seconds(master_pid: int) -> dict[int, float]:
    """CPU seconds each gunicorn worker of ``master_pid`` has used so far.

    Read before and after a round, it shows how the round's work was shared:
    gthread workers keep a kept-alive connection for good, so eight
    connections can land 6/2 (or 8/0) on two workers and leave a core idle.
    """
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return {}
    used = {}
    for pid in children:
        found = _cpu_seconds_of(pid)
        if found is not None:
            used[int(pid)] = found[1]
    return used


def postgres_cpu_seconds() -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL process on this machine.

    The server runs here beside gunicorn; read before and after a round, it
    shows how much of the two cores the requests' database work took.
    """
    used = {}
    for entry in Path("/proc").iterdir():
        found = _cpu_seconds_of(entry.name) if entry.name.isdigit() else None
        if found is not None and found[0] == "postgres":
            used[int(entry.name)] = found[1]
    return used


def cpu_seconds_between(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """Each process's CPU seconds in between, for the processes alive at the end (one that
    exited in between is left out rather than counted as negative)."""
    return {pid: round(seconds - before.get(pid, 0.0), 2) for pid, seconds in after.items()}


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


def stop_server(registry, process) -> list[str]:
    """Stop one gunicorn (graceful: requests in flight finish) and return the last lines it logged."""
    registry.stop(process)
    process.log_file.close()
    return [line for line in Path(process.log_path).read_text(errors="replace").splitlines() if line.strip()][-20:]


# --- Load ----------------------------------------------------------------------------


def run_load(
    registry,
    tool: str,
    url: str,
    cookie: str | None,
    args,
    duration: float,
    *,
    script: Path = WRK_SCRIPT,
    script_args: list[str] | None = None,
    python_args: list[str] | None = None,
) -> dict:
    """One fixed-duration run of the load generator against ``url``; the figures of that run.

    With ``wrk``, ``script`` is the Lua script (``script_args`` follow ``--``).
    The Python fallback gets ``python_args`` instead.
    """
    if tool == "wrk":
        command = [
            "wrk", f"-t{args.wrk_threads}", f"-c{args.concurrency}", f"-d{duration:g}s", "--timeout", "30s",
            "--latency", "-s", str(script),
        ]  # fmt: skip
        if cookie:
            command += ["-H", f"Cookie: {cookie}"]
        command.append(url)
        if script_args:
            command += ["--", *script_args]
    else:
        command = [
            sys.executable, str(HERE / "loadgen.py"), url, "--connections", str(args.concurrency),
            "--duration", f"{duration:g}",
        ]  # fmt: skip
        if cookie:
            command += ["--header", f"Cookie: {cookie}"]
        command += python_args or []
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
    figures = {
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
    if "post" in raw:
        figures["post"] = raw["post"]
    return figures


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


def ratios_against(measured: dict, baseline: dict) -> dict:
    return {
        "rps": ratio(measured["rps"], baseline["rps"]),
        "p50": ratio(measured["p50_ms"], baseline["p50_ms"]),
        "p95": ratio(measured["p95_ms"], baseline["p95_ms"]),
    }


# --- Describing the run ----------------------------------------------------------------


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


def environment(args, services: dict, db_vendor: str) -> dict:
    """The part of ``environment`` every suite reports: machine, versions, services."""
    import django as django_pkg
    import wagtail

    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg_1m_at_start": args.loadavg_at_start,
        "python": platform.python_version(),
        "django": django_pkg.get_version(),
        "wagtail": wagtail.__version__,
        "database_vendor": db_vendor,
        **services,
        "settings_module": SETTINGS_FULL,
    }


def gunicorn_description(args, servers: dict) -> dict:
    import gunicorn

    return {
        "version": gunicorn.__version__,
        "worker_class": args.worker_class,
        "workers": args.workers,
        "threads_per_worker": args.threads if args.worker_class == "gthread" else 1,
        "servers": servers,
    }


def quiet_stdout():
    """Management commands print to stdout; the runner's stdout is the JSON only."""
    return contextlib.redirect_stdout(io.StringIO())
