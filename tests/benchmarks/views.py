"""Baseline views that exist only on the benchmark servers."""

import uuid

from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.views.decorators.http import require_POST

# The write baseline's table: created with raw SQL by the referrals suite (no model, no migration).
INSERT_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS bench_insert (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL,
    token uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT_REDIRECT = "/__bench__/trivial/"


def bare(request):
    """Served by a gunicorn with MIDDLEWARE = []: the floor of Django + gunicorn."""
    return HttpResponse(b"ok\n", content_type="text/plain")


def trivial(request):
    """Served behind the full middleware stack, signed in: the floor of a portal page."""
    return HttpResponse(b"ok\n", content_type="text/plain")


@require_POST
def insert(request):
    """Signed-in, CSRF-checked POST inserting one row in one transaction, then redirecting.

    The floor of a write request: the same middleware, session, user and form
    parsing as the referral POSTs, one INSERT and one COMMIT, and a 302 like theirs.
    """
    try:
        token = uuid.UUID(request.POST.get("token", ""))
    except ValueError:
        return HttpResponseBadRequest(b"token must be a UUID\n", content_type="text/plain")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_insert (user_id, token) VALUES (%s, %s)", [request.user.pk, token])
    return HttpResponseRedirect(INSERT_REDIRECT)
