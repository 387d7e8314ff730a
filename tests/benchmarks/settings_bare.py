"""The bare baseline server: production settings with no middleware and one view.

``INSTALLED_APPS`` is emptied too: allauth refuses to start without its
middleware, and no app takes part in serving a plain view anyway (no
middleware, no template, no database). What remains is gunicorn, Django's
WSGI handler and URL resolver: the floor every portal page stands on.
"""

from tests.benchmarks.settings import *  # noqa: F403

MIDDLEWARE: list[str] = []
INSTALLED_APPS: list[str] = []
ROOT_URLCONF = "tests.benchmarks.urls_bare"
