from django.urls import re_path

from . import views, views_advanced

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
    re_path(
        f"{_CHARGE_POINT}monitors/$",
        views_advanced.VariableMonitorList.as_view(),
        name="chargepoint-monitors",
    ),
    re_path(
        f"{_CHARGE_POINT}events/$",
        views_advanced.DeviceEventList.as_view(),
        name="chargepoint-device-events",
    ),
    re_path(
        f"{_CHARGE_POINT}display-messages/$",
        views_advanced.DisplayMessageList.as_view(),
        name="chargepoint-display-messages",
    ),
    re_path(
        f"{_CHARGE_POINT}customer-information/$",
        views_advanced.CustomerInformationList.as_view(),
        name="chargepoint-customer-information",
    ),
    re_path(
        f"{_CHARGE_POINT}cost-updates/$",
        views_advanced.CostUpdateView.as_view(),
        name="chargepoint-cost-updates",
    ),
]
