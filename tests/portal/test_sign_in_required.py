"""Every page except sign-in, password reset and the health check requires sign-in."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

# Pages an anonymous visitor may open: signing in, signing up, resetting a
# password, confirming an address, and the health check.
ANONYMOUS_ALLOWED = {
    "/health/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/key/done/",
    "/accounts/confirm-email/",
    "/accounts/login/code/confirm/",
    "/accounts/2fa/authenticate/",
    "/accounts/logout/",
    "/accounts/inactive/",
    "/accounts/3rdparty/login/cancelled/",
    "/accounts/3rdparty/login/error/",
    "/accounts/3rdparty/signup/",
}


def _parameterless_paths(patterns=None, prefix=""):
    """Every URL of the project that takes no argument, e.g. '/notifications/'."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if "<" in route or "(?P" in route:
                continue
            yield from _parameterless_paths(entry.url_patterns, prefix + route.lstrip("^"))
        elif isinstance(entry, URLPattern):
            if "<" in route or "(?P" in route:
                continue
            path = "/" + prefix + route.lstrip("^").rstrip("$")
            if any(ch in path for ch in "()[]*+?|"):
                continue
            yield path


def _must_sign_in(response, path):
    assert response.status_code in (301, 302), f"{path} answered {response.status_code} to an anonymous visitor"
    location = response["Location"]
    assert "/accounts/login/" in location or location.endswith("/login/") or "login" in location, (
        f"{path} redirected to {location}, not to sign-in"
    )


def test_every_parameterless_url_sends_anonymous_visitors_to_sign_in(client, home_page):
    checked = 0
    for path in sorted(set(_parameterless_paths())):
        if path in ANONYMOUS_ALLOWED:
            continue
        response = client.get(path)
        if response.status_code == 405:  # POST-only actions (mark read) refuse GET outright
            response = client.post(path)
        if response.status_code in (301, 302) and response["Location"].startswith("/django-admin/login/"):
            response = client.get(response["Location"])  # Django admin hops via its wrapped login
        _must_sign_in(response, path)
        checked += 1
    assert checked > 20, f"only {checked} URLs walked: the walker is broken"


def test_allowed_anonymous_pages_really_are_open(client):
    for path in ["/health/", reverse("account_login"), reverse("account_reset_password")]:
        assert client.get(path).status_code == 200, path


def test_wagtail_pages_require_sign_in(client, home_page):
    from cms.models import HomePage

    assert HomePage.objects.live().exists()
    _must_sign_in(client.get(home_page.url), home_page.url)
    _must_sign_in(client.get("/search/?q=program"), "/search/")


def test_documents_require_sign_in(client, leader, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    from wagtail.documents.models import Document

    document = Document.objects.create(title="Referral guide", file=SimpleUploadedFile("guide.txt", b"how to refer"))

    _must_sign_in(client.get(document.url), document.url)
    client.force_login(leader)
    assert client.get(document.url).status_code == 200


def test_images_and_renditions_require_sign_in(client, leader, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    from PIL import Image as PILImage
    from wagtail.images.models import Image

    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), "navy").save(buffer, "PNG")
    image = Image.objects.create(title="Team photo", file=SimpleUploadedFile("team.png", buffer.getvalue()))
    rendition = image.get_rendition("width-20")

    for url in [image.file.url, rendition.url]:
        assert url.startswith("/media/")
        _must_sign_in(client.get(url), url)
    client.force_login(leader)
    assert client.get(rendition.url).status_code == 200


def test_media_view_refuses_paths_outside_the_media_folder(client, leader):
    client.force_login(leader)

    assert client.get("/media/../portal/settings/base.py").status_code == 404
    assert client.get("/media/%2e%2e/manage.py").status_code == 404
