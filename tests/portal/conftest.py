"""The referral tests' small hospital (people in every capacity, referrals in every state), for the dashboards."""

from tests.referrals.conftest import cast, new_referral, referral_in  # noqa: F401
