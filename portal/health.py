"""Reachability of the database, cache, broker and Celery workers. No secrets in the report."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection


def _timed(check):
    started = time.perf_counter()
    try:
        detail = check()
        status = "ok"
    except Exception as exc:  # report, never raise: the endpoint must answer
        detail = type(exc).__name__
        status = "error"
    return {"status": status, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _cache():
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value it stored")
    cache.delete(key)
    return settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


def _broker():
    from portal.celery import app

    if app.conf.task_always_eager:
        return "inline (tasks run in the web process)"

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls


def _workers():
    from portal.celery import app

    if app.conf.task_always_eager:
        return "inline"

    replies = app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("no worker answered")
    return f"{len(replies)} worker(s)"


def run_health_checks() -> dict:
    checks = {
        "database": _timed(_database),
        "cache": _timed(_cache),
        "broker": _timed(_broker),
        "workers": _timed(_workers),
    }
    overall = "ok" if all(c["status"] == "ok" for c in checks.values()) else "error"
    return {"status": overall, "checks": checks}
