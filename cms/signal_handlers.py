"""Receivers for Wagtail's and Django's signals: each only enqueues a task or calls a service."""

from django.db.models.signals import post_migrate


def _program_update_published(sender, instance, **kwargs):
    from cms.tasks import update_notify_audience

    # Ids only; the task reads the published update itself, so a rolled-back publish sends nothing.
    update_notify_audience.delay_on_commit(instance.pk)


def _sync_moderation_workflow(sender, **kwargs):
    from django.apps import apps

    from cms import services

    # As portal's role sync: only after the last app, when Wagtail's tables and the groups all exist.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    services.moderation_workflow_sync()


def connect():
    from wagtail.signals import page_published

    from cms.models import ProgramUpdatePage

    page_published.connect(
        _program_update_published, sender=ProgramUpdatePage, dispatch_uid="cms_program_update_published"
    )
    post_migrate.connect(_sync_moderation_workflow, dispatch_uid="cms_sync_moderation_workflow")
