from django.urls import re_path
from rest_framework.routers import SimpleRouter

from . import views
from .schemas import API_ACTIONS

router = SimpleRouter()
router.register("journal", views.JournalViewSet, basename="journalentry")

_CHARGE_POINT = r"^charge-points/(?P<charge_point_id>[^/]+)/commands/"

urlpatterns = [
    *router.urls,
    re_path(f"{_CHARGE_POINT}$", views.CommandList.as_view(), name="chargepoint-commands"),
    re_path(
        r"^commands/(?P<command_id>[0-9]{1,18})/$",
        views.CommandDetail.as_view(),
        name="command-detail",
    ),
    *(
        re_path(
            f"{_CHARGE_POINT}{views.kebab_case(action)}/$",
            views.command_view_for(action).as_view(),
            name=f"chargepoint-command-{views.kebab_case(action)}",
        )
        for action in sorted(API_ACTIONS)  # both versions: one URL per action
    ),
    re_path(f"{_CHARGE_POINT}(?P<command>[^/]+)/$", views.UnknownCommandView.as_view()),
]
