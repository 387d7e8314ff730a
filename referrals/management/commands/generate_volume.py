from django.core.management.base import BaseCommand, CommandError

from referrals import rollups
from referrals.volume import Plan, generate


class Command(BaseCommand):
    help = (
        "Generate realistic referral volume for scale work (PostgreSQL): years of referrals with their "
        "events and credit, then rebuild the dashboard and leaderboard rollups."
    )

    def add_arguments(self, parser):
        parser.add_argument("--referrals", type=int, default=1_000_000)
        parser.add_argument("--years", type=int, default=3)
        parser.add_argument("--clinicians", type=int, default=4000)
        parser.add_argument("--reviewers", type=int, default=240)
        parser.add_argument("--seed", type=int, default=20261201)

    def handle(self, *args, **options):
        if options["referrals"] < 1:
            raise CommandError("--referrals must be at least 1.")
        plan = Plan(
            referrals=options["referrals"],
            years=options["years"],
            clinicians=options["clinicians"],
            reviewers=options["reviewers"],
            seed=options["seed"],
        )
        try:
            totals = generate(plan, log=self.stdout.write)
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        self.stdout.write("rebuilding rollups…")
        built = rollups.rebuild_all(log=self.stdout.write)
        self.stdout.write(
            self.style.SUCCESS(
                f"{totals['referrals']} referrals, {totals['events']} events, "
                f"{totals['credit_entries']} credit entries; rollups: {built}"
            )
        )
