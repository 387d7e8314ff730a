"""Every periodic job in the beat schedule names a task the worker knows."""

from django.conf import settings

from portal.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()

    missing = {
        name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items() if entry["task"] not in app.tasks
    }

    assert missing == {}


def test_the_update_reminders_run_on_the_beat():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "cms.tasks.remind_unacknowledged_updates" in tasks


def test_scheduled_pages_are_published_on_the_beat():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "cms.tasks.publish_scheduled_pages" in tasks
