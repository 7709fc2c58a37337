from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("tariffs", views.TariffViewSet, basename="tariff")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("billing-failures", views.BillingFailureViewSet, basename="billingfailure")

urlpatterns = [
    *router.urls,
    path("me/invoices/", views.MyInvoiceList.as_view(), name="me-invoices"),
]
