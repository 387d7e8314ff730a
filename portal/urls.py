from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from cms import views as cms_views
from portal import views

# Every admin login goes through allauth (rate limits, two-factor): the Django
# admin's login view is wrapped; Wagtail's admin and front-end logins are
# redirected to allauth's before Wagtail's own URLs.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = f"{settings.PORTAL_NAME} administration"

urlpatterns = [
    path("health/", views.health, name="health"),
    path("accounts/", include("allauth.urls")),
    path(
        f"{settings.WAGTAIL_ADMIN_PREFIX}login/",
        RedirectView.as_view(pattern_name="account_login", query_string=True),
        name="wagtailadmin_login_redirect",
    ),
    path(settings.WAGTAIL_ADMIN_PREFIX, include(wagtailadmin_urls)),
    path(settings.DJANGO_ADMIN_PREFIX, admin.site.urls),
    path("documents/", include(wagtaildocs_urls)),
    re_path(r"^media/(?P<path>.+)$", views.protected_media, name="protected_media"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/badge/", views.notification_badge, name="notification_badge"),
    path("notifications/<int:notification_id>/open/", views.notification_open, name="notification_open"),
    path("notifications/preferences/", views.notification_preferences, name="notification_preferences"),
    # django-notifications' POST-only mark-read views, under the same prefix.
    path("notifications/", include("notifications.urls", namespace="notifications")),
    # Referral screens: refer, my referrals, review queue, coordinator board, detail.
    path("", include("referrals.urls")),
    # Learn: required training, quizzes, who is overdue (course and lesson pages are Wagtail pages).
    path("learn/", include("education.urls")),
    path("search/", cms_views.search, name="search"),
    # Leadership's "Publish to its audience" (linked from Wagtail's admin; the request only queues the publish).
    path("intranet/updates/<int:page_id>/publish/", cms_views.update_publish, name="cms_update_publish"),
    # My impact, leaderboards, credit rules, participation and the leadership dashboard.
    path("", include("portal.dashboards.urls")),
    # Wagtail's front-end login (for private pages) would also bypass allauth.
    path("_util/login/", RedirectView.as_view(pattern_name="account_login", query_string=True)),
    path("", include(wagtail_urls)),
]
