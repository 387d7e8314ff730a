"""Only the bare baseline view (served with MIDDLEWARE = [])."""

from django.urls import path

from tests.benchmarks import views

urlpatterns = [
    path("__bench__/bare/", views.bare, name="bench_bare"),
]
