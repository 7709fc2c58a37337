from django.urls import path

from . import api, tou_api

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
    path(
        "stations/<int:pk>/tou-signal/", tou_api.TouSignalView.as_view(), name="station-tou-signal"
    ),
    path(
        "me/transactions/<int:pk>/departure/",
        tou_api.MyDepartureView.as_view(),
        name="me-transaction-departure",
    ),
]
