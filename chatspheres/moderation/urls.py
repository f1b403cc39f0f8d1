from django.urls import path

from chatspheres.moderation import views

app_name = "moderation"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("reports/<int:report_id>/", views.report_detail, name="report"),
    path("appeals/<int:appeal_id>/", views.appeal_detail, name="appeal"),
    path("log/", views.audit_log, name="log"),
    path(
        "interests/<int:interest_id>/approve/",
        views.interest_review,
        {"verdict": "approve"},
        name="interest_approve",
    ),
    path(
        "interests/<int:interest_id>/reject/",
        views.interest_review,
        {"verdict": "reject"},
        name="interest_reject",
    ),
    path("notice/<str:token>/", views.notice, name="notice"),
]
