"""Settings from the environment: safe defaults, production refuses to start half-configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3Jq9-vT2pL8zRw4Ym7Xc1Nb6Hd0Gf5Sa2Qe8Uo3Ii9Pl4Kj7-Wm2Zx8Ty5Rv1",
    "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DJANGO_ALLOWED_HOSTS": "portal.riverside.example.org",
    "PORTAL_BASE_URL": "https://portal.riverside.example.org",
}


def _clean_env(**extra):
    """The process environment without any of the portal's variables."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {**keep, **extra}


def _run(args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _settings_of(module, env, names):
    code = (
        "import django, json, os; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: str(getattr(s, n)) for n in {names!r}}}))"
    )
    result = _run(["-c", code], {**env, "DJANGO_SETTINGS_MODULE": module})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_with_nothing_set_the_portal_uses_sqlite_inline_tasks_and_console_email():
    values = _settings_of(
        "portal.settings.dev",
        _clean_env(),
        ["DATABASES", "CELERY_TASK_ALWAYS_EAGER", "EMAIL_BACKEND", "CACHES"],
    )

    assert "sqlite3" in values["DATABASES"]
    assert values["CELERY_TASK_ALWAYS_EAGER"] == "True"
    assert values["EMAIL_BACKEND"].endswith("console.EmailBackend")


def test_database_and_redis_urls_switch_to_postgres_redis_and_a_real_worker():
    env = _clean_env(DATABASE_URL="postgres://u@127.0.0.1:5432/portal", REDIS_URL="redis://127.0.0.1:6379/3")
    values = _settings_of(
        "portal.settings.dev", env, ["DATABASES", "CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL", "CACHES"]
    )

    assert "postgresql" in values["DATABASES"]
    assert values["CELERY_TASK_ALWAYS_EAGER"] == "False"
    assert values["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/3"
    assert "RedisCache" in values["CACHES"]


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_without_a_required_variable_stops_with_one_line_naming_it(missing):
    env = _clean_env(**{k: v for k, v in PRODUCTION_ENV.items() if k != missing})
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings.production"

    result = _run(["manage.py", "check"], env)

    assert result.returncode == 1
    assert result.stderr.strip() == f"Missing required environment variable: {missing}"


def test_production_passes_djangos_deployment_checks_without_a_warning():
    env = _clean_env(**PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="portal.settings.production")

    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def _database_options(**env):
    values = _settings_of("portal.settings.dev", _clean_env(**env), ["DATABASES"])
    return values["DATABASES"]


def test_on_postgres_parameters_are_bound_on_the_server_and_repeated_statements_prepared():
    databases = _database_options(DATABASE_URL="postgres://u@127.0.0.1:5432/portal")

    assert "'server_side_binding': True" in databases
    assert "'prepare_threshold': 5" in databases


def test_prepared_statements_can_be_turned_off_for_a_connection_pooler():
    databases = _database_options(
        DATABASE_URL="postgres://u@127.0.0.1:5432/portal", DATABASE_PREPARED_STATEMENTS="false"
    )

    assert "server_side_binding" not in databases
    assert "prepare_threshold" not in databases


def test_sqlite_gets_no_postgres_connection_options():
    assert "server_side_binding" not in _database_options()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_query_a_connection_repeats_is_planned_once_as_a_prepared_statement():
    from django.db import connection

    probe = "SELECT %s::text AS prepared_statement_probe"

    def run_probe():
        with connection.cursor() as cursor:
            cursor.execute(probe, ["x"])

    def prepared_probes():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s",
                ["SELECT $1::text AS prepared_statement_probe"],
            )
            return cursor.fetchone()[0]

    for _ in range(5):
        run_probe()
    after_five = prepared_probes()
    run_probe()

    assert after_five == 0
    assert prepared_probes() == 1


def test_a_redis_broker_uses_the_portals_transport_and_any_other_broker_kombus_own():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(getattr(s, 'CELERY_BROKER_TRANSPORT', None))"
    )

    def transport_with(**env):
        result = _run(["-c", code], _clean_env(DJANGO_SETTINGS_MODULE="portal.settings.dev", **env))
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    assert transport_with(REDIS_URL="redis://127.0.0.1:6379/3") == "portal.broker:Transport"
    assert transport_with(REDIS_URL="redis://127.0.0.1:6379/3", CELERY_BROKER_URL="amqp://guest@127.0.0.1//") == "None"
    assert transport_with() == "None"
