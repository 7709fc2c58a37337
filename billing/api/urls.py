from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from . import exports, quotes, views

router = SimpleRouter()
router.register("tariffs", views.TariffViewSet, basename="tariff")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("billing-failures", views.BillingFailureViewSet, basename="billingfailure")

urlpatterns = [
    *router.urls,
    path("me/invoices/", views.MyInvoiceList.as_view(), name="me-invoices"),
    re_path(
        r"^exports/(?P<kind>transactions|invoices)\.(?P<file_format>csv|json)$",
        exports.ExportView.as_view(),
        name="export",
    ),
    # Charge point ids may hold anything but a slash (as stations.api reads them).
    re_path(
        r"^charge-points/(?P<charge_point_id>[^/]+)/connectors/(?P<connector_id>[0-9]{1,9})/quote/$",
        quotes.ChargePointQuoteView.as_view(),
        name="chargepoint-connector-quote",
    ),
]
