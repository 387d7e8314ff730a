"""The bare baseline server: the same settings with no middleware and one view."""

from tests.benchmarks.settings import *  # noqa: F403

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.benchmarks.urls_bare"
