"""The portal's URLs plus the signed-in trivial baseline view."""

from django.urls import include, path

from tests.benchmarks import views

urlpatterns = [
    path("__bench__/trivial/", views.trivial, name="bench_trivial"),
    path("", include("portal.urls")),
]
