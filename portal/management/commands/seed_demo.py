from django.core.management.base import BaseCommand

from portal import demo


class Command(BaseCommand):
    help = "Create the demo hospital (departments, specialties, people in every role, home page). Idempotent."

    def handle(self, *args, **options):
        people = demo.seed_demo_people()
        created_home = demo.seed_demo_home_page()
        new = sum(1 for _, created in people if created)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo hospital ready: {new} new people, home page {'created' if created_home else 'kept'}."
            )
        )
        self.stdout.write(f"\nDemo sign-ins (password for all: {demo.DEMO_PASSWORD})\n")
        for person, _ in people:
            roles = ", ".join(r.value for r in person.roles)
            self.stdout.write(f"  {demo.demo_email(person):42} {roles}")
        self.stdout.write("")
