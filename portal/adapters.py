"""allauth adapters: sign-up only for hospital e-mail domains, profiles for new people."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.conf import settings

from portal import services


def _domain_allowed(email: str) -> bool:
    domain = email.rpartition("@")[2].lower()
    return domain in settings.HOSPITAL_EMAIL_DOMAINS


class HospitalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # With single sign-on on, accounts come from the identity provider only.
        return not settings.OIDC_ENABLED

    def clean_email(self, email):
        email = super().clean_email(email)
        if not _domain_allowed(email):
            domains = ", ".join(f"@{d}" for d in settings.HOSPITAL_EMAIL_DOMAINS)
            raise forms.ValidationError(
                f"Use your hospital e-mail address ({domains}). The portal is for hospital staff only."
            )
        return email

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            services.profile_ensure(user=user)
        return user


class HospitalSocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        return _domain_allowed(sociallogin.user.email or "")

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        services.profile_ensure(user=user)
        return user
