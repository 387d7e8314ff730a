"""Local development and the demo: embedded defaults, debug on."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The demo signs in without an authenticator app; every page then shows a
# notice that two-factor is relaxed. Production never relaxes it.
MFA_REQUIRED_FOR_PATIENT_DATA = env.bool("MFA_REQUIRED_FOR_PATIENT_DATA", default=False)
# Plain static storage: no manifest needed before collectstatic.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
