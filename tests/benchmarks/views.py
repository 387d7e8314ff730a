"""Baseline views that exist only on the benchmark servers."""

from django.http import HttpResponse


def bare(request):
    """Served by a gunicorn with MIDDLEWARE = []: the floor of Django + gunicorn."""
    return HttpResponse(b"ok\n", content_type="text/plain")


def trivial(request):
    """Served behind the full middleware stack, signed in: the floor of a portal page."""
    return HttpResponse(b"ok\n", content_type="text/plain")
