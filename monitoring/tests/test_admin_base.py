"""Every read-only console page, in every app, is read-only through the same base."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from billing.models import BillingFailure, Invoice, InvoiceLine, InvoiceSequence, StationEnergyHour
from drivers.models import LocalAuthList
from monitoring.admin_base import ReadOnlyAdminMixin, ReadOnlyModelAdmin, all_field_names
from monitoring.models import Node
from stations.models import (
    ChargingProfile,
    ConnectorStatusLog,
    DataTransferRecord,
    MeterValue,
    OrphanStopTransaction,
    Reservation,
    SecurityEvent,
    Transaction,
)

READ_ONLY = [
    BillingFailure,
    ChargingProfile,
    ConnectorStatusLog,
    DataTransferRecord,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    MeterValue,
    OrphanStopTransaction,
    Reservation,
    SecurityEvent,
    StationEnergyHour,
    Transaction,
]
# Read-only too, but operators may delete a row.
DELETABLE = [LocalAuthList, Node]


@pytest.fixture
def superuser_request(admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    return request


@pytest.mark.django_db
@pytest.mark.parametrize("model", READ_ONLY + DELETABLE, ids=lambda model: model.__name__)
def test_nobody_adds_or_edits(superuser_request, model):
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, ReadOnlyAdminMixin)
    assert not model_admin.has_add_permission(superuser_request)
    assert not model_admin.has_change_permission(superuser_request)
    assert model_admin.has_view_permission(superuser_request)
    deletable = model in DELETABLE
    assert model_admin.has_delete_permission(superuser_request) is deletable
    for inline in model_admin.get_inline_instances(superuser_request):
        assert not inline.has_add_permission(superuser_request, None)
        assert not inline.has_change_permission(superuser_request)
        assert not inline.has_delete_permission(superuser_request)


@pytest.mark.django_db
@pytest.mark.parametrize("model", READ_ONLY, ids=lambda model: model.__name__)
def test_read_only_pages_show_every_stored_field(superuser_request, model):
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, ReadOnlyModelAdmin)
    shown = model_admin.get_readonly_fields(superuser_request)
    assert set(all_field_names(model)) <= set(shown)
