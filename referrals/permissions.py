"""How a person stands towards a referral. Pure: no writes, at most one query per person."""

from __future__ import annotations

from portal.models import User
from portal.roles import Role
from referrals.workflow import Capacity


def capacities_of(user: User, referral) -> set[Capacity]:
    if not user.is_authenticated:
        return set()
    capacities = set()
    if referral.referrer_id == user.pk:
        capacities.add(Capacity.REFERRER)
    if user.has_role(Role.COORDINATOR):
        capacities.add(Capacity.COORDINATOR)
    if referral.reviewer_id is not None and referral.reviewer_id == user.pk:
        capacities.add(Capacity.OWNER)
    if referral.specialty_id in user.review_specialty_ids:
        capacities.add(Capacity.SPECIALTY_REVIEWER)
    return capacities
