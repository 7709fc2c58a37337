from django.urls import path

from . import views

urlpatterns = [
    path(
        "firmware/<str:token>/<str:filename>",
        views.firmware_download,
        name="firmware_download",
    ),
    path("uploads/<str:token>/", views.upload, name="firmware_upload"),
    path("uploads/<str:token>/<str:filename>", views.upload, name="firmware_upload_named"),
]
