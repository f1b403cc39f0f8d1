from django.urls import path

from chatspheres.spheres import views

app_name = "spheres"

urlpatterns = [
    path("", views.sphere_list, name="list"),
    path("<slug:slug>/", views.sphere_detail, name="detail"),
    path("<slug:slug>/join/", views.join, name="join"),
    path("<slug:slug>/leave/", views.leave, name="leave"),
    path("<slug:slug>/watch/", views.watch, name="watch"),
]
