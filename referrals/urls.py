"""Referral screens. Included at the site root by portal/urls.py.

URLs carry reference numbers only, never patient data.
"""

from django.urls import path

from referrals import views

urlpatterns = [
    path("refer/", views.referral_create, name="referral_create"),
    path("referrals/mine/", views.my_referrals, name="my_referrals"),
    path("referrals/<str:reference>/", views.referral_detail, name="referral_detail"),
    path("referrals/<str:reference>/<slug:action>/", views.referral_action, name="referral_action"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/mine/", views.my_cases, name="my_cases"),
    path("coordinator/", views.coordinator_board, name="coordinator_board"),
    path("coordinator/log/", views.referral_log_other_channel, name="referral_log_other_channel"),
]
