"""The one authentication backend: allauth's, loading the signed-in person's profile with the user row."""

from __future__ import annotations

from allauth.account.auth_backends import AuthenticationBackend as AllauthAuthenticationBackend
from django.contrib.auth import get_user_model


class AuthenticationBackend(AllauthAuthenticationBackend):
    """allauth's backend (e-mail sign-in, its rate limits, Django's permissions).

    The session's user is read with its profile in one join: the referral form,
    the services and the navigation need the department and title on most
    requests, and a second query per request for them is pure overhead.
    """

    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("profile").get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
