"""The /health/ endpoint: JSON, no secrets, 503 when something is down."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_health_is_open_and_reports_each_dependency(client):
    response = client.get("/health/")

    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ok"
    assert set(report["checks"]) == {"database", "cache", "broker", "workers"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_never_reveals_secrets_or_addresses(client):
    body = client.get("/health/").content.decode()

    assert settings.SECRET_KEY not in body
    assert "127.0.0.1" not in body and "password" not in body.lower()


def test_health_answers_503_when_the_cache_is_unreachable(client, monkeypatch):
    from portal import health

    def broken_cache():
        raise ConnectionError("redis://secret-host:6379 refused")

    monkeypatch.setattr(health, "_cache", broken_cache)
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == {
        "status": "error",
        "detail": "ConnectionError",
        "ms": pytest.approx(0, abs=50),
    }
    assert "secret-host" not in response.content.decode()
