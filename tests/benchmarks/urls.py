"""The portal's URLs plus the signed-in baseline views (trivial read, one-row insert)."""

from django.urls import include, path

from tests.benchmarks import views

urlpatterns = [
    path("__bench__/trivial/", views.trivial, name="bench_trivial"),
    path("__bench__/insert/", views.insert, name="bench_insert"),
    path("", include("portal.urls")),
]
