"""Receivers for Wagtail's signals: each only enqueues a task, after the publish commits."""


def _program_update_published(sender, instance, **kwargs):
    from cms.tasks import update_notify_audience

    # Ids only; the task reads the published update itself, so a rolled-back publish sends nothing.
    update_notify_audience.delay_on_commit(instance.pk)


def connect():
    from wagtail.signals import page_published

    from cms.models import ProgramUpdatePage

    page_published.connect(
        _program_update_published, sender=ProgramUpdatePage, dispatch_uid="cms_program_update_published"
    )
