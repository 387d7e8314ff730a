"""Learn: my training, the quiz of each course, who is overdue. Included at /learn/ by portal/urls.py."""

from django.urls import path

from education import views

urlpatterns = [
    path("", views.learn, name="learn"),
    path("overdue/", views.overdue, name="education_overdue"),
    path("courses/<int:course_id>/quiz/", views.quiz, name="education_quiz"),
    path("courses/<int:course_id>/reopen/", views.reopen, name="education_reopen"),
]
