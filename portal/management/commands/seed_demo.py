from contextlib import contextmanager

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from portal import demo


@contextmanager
def _without_email():
    """Run the demo's tasks in this process, with e-mail going nowhere: a worker would send it for real."""
    from portal.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            yield
    finally:
        app.conf.task_always_eager = eager


class Command(BaseCommand):
    help = "Create the demo hospital (people in every role, home page, referrals in every step). Idempotent."

    def handle(self, *args, **options):
        # A site-level command: it seeds each app in turn, people first.
        from cms.demo import seed_demo_intranet
        from education.demo import seed_demo_courses
        from referrals.demo import seed_demo_referrals

        people = demo.seed_demo_people()
        created_home = demo.seed_demo_home_page()
        # The demo's history (referrals, published updates) notifies people in-app; it should not also mail them.
        with _without_email():
            new_referrals = seed_demo_referrals(demo.DEMO_DOMAIN)
            new_pages = seed_demo_intranet()
            new_course_pages = seed_demo_courses()
        new = sum(1 for _, created in people if created)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo hospital ready: {new} new people, {new_referrals} new referrals, "
                f"{new_pages} new intranet pages, {new_course_pages} new course pages, "
                f"home page {'created' if created_home else 'kept'}."
            )
        )
        self.stdout.write(f"\nDemo sign-ins (password for all: {demo.DEMO_PASSWORD})\n")
        for person, _ in people:
            roles = ", ".join(r.value for r in person.roles)
            self.stdout.write(f"  {demo.demo_email(person):42} {roles}")
        self.stdout.write("")
