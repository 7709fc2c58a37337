from django.urls import path

from . import api

urlpatterns = [
    path("stations/<int:pk>/allocation/", api.AllocationView.as_view(), name="station-allocation"),
    path(
        "stations/<int:pk>/load-management/",
        api.SiteLimitView.as_view(),
        name="station-load-management",
    ),
    path(
        "stations/<int:pk>/limit-schedule/",
        api.LimitScheduleView.as_view(),
        name="station-limit-schedule",
    ),
]
