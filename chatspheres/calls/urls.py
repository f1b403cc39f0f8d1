from django.urls import path

from chatspheres.calls import views

app_name = "calls"

urlpatterns = [
    path("spheres/<slug:slug>/call/", views.call_page, name="call"),
    path("conversations/<slug:public_id>/reflection/", views.reflection, name="reflection"),
    path("conversations/<slug:public_id>/ice/", views.ice_servers, name="ice_servers"),
    path("call/answer/<slug:ring>/", views.call_answer, name="call_answer"),
    path("call/<slug:handle>/", views.call_now, name="call_now"),
]
