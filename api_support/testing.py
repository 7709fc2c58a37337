"""Factories for the API tests of every app: users by role, clients, sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import Invoice, InvoiceLine
from drivers.models import Driver, IdTag, User
from stations.choices import SessionStatus
from stations.models import ChargePoint, Connector, MeterValue, Station, Transaction

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
_numbers = count(1)


def permission(label: str) -> Permission:
    """'app_label.codename' as a Permission row."""
    app_label, codename = label.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def make_operator(*perms: str, username: str | None = None, superuser: bool = False) -> User:
    """A staff user with exactly the given model permissions ('stations.view_station')."""
    user = User.objects.create_user(
        username=username or f"operator{next(_numbers)}",
        password="operator-pass-123",
        is_staff=True,
        is_superuser=superuser,
    )
    user.user_permissions.add(*(permission(label) for label in perms))
    return user


def make_driver(username: str | None = None, *tags: str) -> User:
    """A (non-staff) user with a driver profile and the given id tags."""
    user = User.objects.create_user(
        username=username or f"driver{next(_numbers)}", password="driver-pass-123"
    )
    driver = Driver.objects.create(user=user)
    for value in tags:
        IdTag.objects.create(id_tag=value, driver=driver)
    return user


def client_for(user: User | None = None) -> APIClient:
    """An API client signed in with a real token (anonymous without a user)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def make_charge_point(
    charge_point_id: str = "CP1",
    *,
    station: Station | None = None,
    is_online: bool = False,
    connectors: dict[int, str] | None = None,
) -> ChargePoint:
    """A charge point; `connectors` maps connector ids to their status."""
    charge_point = ChargePoint.objects.create(
        charge_point_id=charge_point_id, station=station, is_online=is_online
    )
    for connector_id, status in (connectors or {1: "Available"}).items():
        Connector.objects.create(
            charge_point=charge_point, connector_id=connector_id, status=status
        )
    return charge_point


def make_session(
    charge_point: ChargePoint,
    id_tag: str,
    *,
    connector_id: int = 1,
    start: datetime = T0,
    meter_start: int = 10_000,
    energy_wh: int | None = None,
    link_tag: bool = True,
    status: SessionStatus | None = None,
    **fields,
) -> Transaction:
    """A transaction; ended (with `energy_wh` delivered) when energy_wh is given.

    `status` defaults to ended or running accordingly; `fields` sets any other
    field (a dispute, a tariff snapshot).
    """
    connector, _ = Connector.objects.get_or_create(
        charge_point=charge_point, connector_id=connector_id
    )
    tag = IdTag.objects.filter(id_tag__iexact=id_tag).first() if link_tag else None
    session = Transaction.objects.create(
        charge_point=charge_point,
        connector=connector,
        id_tag=id_tag,
        tag=tag,
        meter_start=meter_start,
        start_timestamp=start,
        status=status or (SessionStatus.RUNNING if energy_wh is None else SessionStatus.ENDED),
        **fields,
    )
    if energy_wh is not None:
        session.meter_stop = meter_start + energy_wh
        session.stop_timestamp = start + timedelta(hours=1)
        session.stop_reason = "Local"
        session.energy_wh = energy_wh
        session.save()
    return session


def add_reading(
    session: Transaction,
    value: str,
    *,
    minutes: int,
    measurand: str = "Energy.Active.Import.Register",
    unit: str = "Wh",
    phase: str = "",
) -> MeterValue:
    return MeterValue.objects.create(
        charge_point=session.charge_point,
        connector=session.connector,
        transaction=session,
        timestamp=session.start_timestamp + timedelta(minutes=minutes),
        value=value,
        numeric_value=Decimal(value),
        measurand=measurand,
        unit=unit,
        phase=phase,
        context="Sample.Periodic",
        location="Outlet",
        format="Raw",
    )


def make_invoice(session: Transaction, *, total: str = "3.54") -> Invoice:
    invoice = Invoice.objects.create(
        number=f"2026-{next(_numbers):06d}",
        transaction=session,
        currency="EUR",
        energy_wh=session.energy_wh or 0,
        net_total=Decimal("2.93"),
        vat_total=Decimal(total) - Decimal("2.93"),
        total=Decimal(total),
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        component="energy",
        description="Energy",
        quantity=Decimal("7.5"),
        unit="kWh",
        unit_price=Decimal("0.39"),
        amount=Decimal("2.93"),
    )
    return invoice
