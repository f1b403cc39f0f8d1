from django.urls import path

from chatspheres.connections import plans_views, views

app_name = "connections"

urlpatterns = [
    path("", views.people, name="people"),
    path("<slug:handle>/", views.person, name="person"),
    path("<slug:handle>/follow/", views.follow, name="follow"),
    path("<slug:handle>/unfollow/", views.unfollow, name="unfollow"),
    path("<slug:handle>/talk-again/", views.talk_again, name="talk_again"),
    path(
        "<slug:handle>/talk-again/withdraw/",
        views.talk_again_withdraw,
        name="talk_again_withdraw",
    ),
    path("<slug:handle>/notes/", views.note_add, name="note_add"),
    path("<slug:handle>/notes/<int:note_id>/", views.note_edit, name="note_edit"),
    path("<slug:handle>/notes/<int:note_id>/delete/", views.note_remove, name="note_delete"),
    path("<slug:handle>/plans/new/", plans_views.plan_new, name="plan_new"),
    path("<slug:handle>/plans/<slug:public_id>/", plans_views.plan_detail, name="plan"),
    path(
        "<slug:handle>/plans/<slug:public_id>/accept/",
        plans_views.plan_accept,
        name="plan_accept",
    ),
    path(
        "<slug:handle>/plans/<slug:public_id>/suggest/",
        plans_views.plan_suggest,
        name="plan_suggest",
    ),
    path(
        "<slug:handle>/plans/<slug:public_id>/cancel/",
        plans_views.plan_cancel,
        name="plan_cancel",
    ),
    path(
        "<slug:handle>/plans/<slug:public_id>/calendar.ics",
        plans_views.plan_calendar,
        name="plan_calendar",
    ),
    path("<slug:handle>/plans/<slug:public_id>/join/", plans_views.plan_join, name="plan_join"),
    path("<slug:handle>/plans/<slug:public_id>/part/", plans_views.plan_part, name="plan_part"),
    path(
        "<slug:handle>/after/<slug:public_id>/",
        views.after_conversation,
        name="after_conversation",
    ),
]
