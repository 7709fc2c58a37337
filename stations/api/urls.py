from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("stations", views.StationViewSet, basename="station")
router.register("charge-points", views.ChargePointViewSet, basename="chargepoint")
router.register("connectors", views.ConnectorViewSet, basename="connector")
router.register("transactions", views.TransactionViewSet, basename="transaction")
router.register("reservations", views.ReservationViewSet, basename="reservation")
router.register("charging-profiles", views.ChargingProfileViewSet, basename="chargingprofile")

urlpatterns = [
    *router.urls,
    path(
        "transactions/<int:pk>/meter-values/",
        views.TransactionMeterValueList.as_view(),
        name="transaction-meter-values",
    ),
    path("me/transactions/", views.MyTransactionList.as_view(), name="me-transactions"),
    path("me/reservations/", views.MyReservationList.as_view(), name="me-reservations"),
    path(
        "transactions/<int:pk>/timeseries/",
        views.TransactionTimeSeries.as_view(),
        name="transaction-timeseries",
    ),
]
