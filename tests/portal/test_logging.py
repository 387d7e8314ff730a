"""Logs are JSON and never carry the query string of a deep link (it can hold patient data)."""

import json
import logging

from portal.logging import JsonFormatter, ScrubQueryStringFilter

MARKER = "ZZPATIENTMARKER"


def _format(record):
    ScrubQueryStringFilter().filter(record)
    return JsonFormatter().format(record)


def test_request_lines_lose_their_query_string():
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        (f"GET /refer/?mrn=123&name={MARKER} HTTP/1.1", "200", "512"),
        None,
    )

    line = _format(record)

    assert MARKER not in line and "mrn=123" not in line
    assert json.loads(line)["message"].startswith('"GET /refer/?… HTTP/1.1"')


def test_request_objects_are_not_serialised():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", (f"/x/?q={MARKER}",), None
    )
    record.request = object()
    record.status_code = 404

    payload = json.loads(_format(record))

    assert MARKER not in json.dumps(payload)
    assert payload["status_code"] == 404 and "request" not in payload


def test_extra_fields_are_kept_as_json_fields():
    record = logging.LogRecord("portal", logging.INFO, __file__, 1, "notifications created", (), None)
    record.event_key = "referral:42:claimed"

    payload = json.loads(_format(record))

    assert payload["event_key"] == "referral:42:claimed" and payload["level"] == "INFO"


def test_gunicorn_access_log_leaves_out_query_strings():
    import runpy
    from pathlib import Path

    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "portal" / "gunicorn.conf.py"))

    assert "%(U)s" in config["access_log_format"]
    assert "%(r)s" not in config["access_log_format"] and "%(q)s" not in config["access_log_format"]
