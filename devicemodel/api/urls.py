from django.urls import re_path

from . import views

_CHARGE_POINT = r"^charge-points/(?P<charge_point_id>[^/]+)/"

urlpatterns = [
    re_path(
        f"{_CHARGE_POINT}variables/$",
        views.DeviceVariableList.as_view(),
        name="chargepoint-variables",
    ),
    re_path(
        f"{_CHARGE_POINT}variables/set/$",
        views.VariableSetView.as_view(),
        name="chargepoint-variables-set",
    ),
    re_path(
        f"{_CHARGE_POINT}variables/report/$",
        views.ReportRequestView.as_view(),
        name="chargepoint-variables-report",
    ),
    re_path(
        f"{_CHARGE_POINT}reports/$",
        views.DeviceReportList.as_view(),
        name="chargepoint-device-reports",
    ),
]
