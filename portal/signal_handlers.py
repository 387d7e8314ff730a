"""Receivers for Django's and allauth's signals: each only calls a service."""

from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from django.apps import apps

    from portal import services

    # post_migrate is sent once per app; permissions of every app exist only
    # after the last one, so sync the role groups then.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender.label != with_models[-1].label:
        return

    services.role_groups_sync()


def _forget_two_factor_check(sender, request=None, **kwargs):
    # The middleware caches "has two-factor" in the session; removing an
    # authenticator must make it look again.
    if request is not None and hasattr(request, "session"):
        from portal.middleware import SESSION_TWO_FACTOR_KEY

        request.session.pop(SESSION_TWO_FACTOR_KEY, None)


def connect():
    from allauth.mfa.signals import authenticator_removed

    post_migrate.connect(_sync_roles, dispatch_uid="portal_sync_roles")
    authenticator_removed.connect(_forget_two_factor_check, dispatch_uid="portal_forget_two_factor")
