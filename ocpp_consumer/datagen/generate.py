"""The order of the generation, the empty-database rule, and the operator account."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.utils import timezone

from billing.models import (
    BillingFailure,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    TagGroup,
    Tariff,
    TariffPeriod,
)
from drivers.models import Driver, IdTag, User
from stations.models import (
    ChargePoint,
    Connector,
    ConnectorStatusLog,
    MeterValue,
    Station,
    Transaction,
)

from ..models import Command, JournalEntry
from .loader import Loader
from .network import OPERATOR_USERNAME_PREFIX, network_build
from .sessions import sessions_build
from .spec import NetworkSpec
from .traffic import commands_build, journal_build, status_log_build

# What a non-empty database holds: the generator then refuses (unless forced).
OCCUPIED_BY = (Station, ChargePoint, Transaction, Command, JournalEntry)
# Cleared by --force, children first (the ORM path of SQLite deletes in this order).
CLEARED = (
    JournalEntry,
    Command,
    InvoiceLine,
    Invoice,
    BillingFailure,
    InvoiceSequence,
    MeterValue,
    Transaction,
    ConnectorStatusLog,
    TariffPeriod,
    Tariff,
    TagGroup,
    Connector,
    ChargePoint,
    Station,
    IdTag,
    Driver,
)
# Filled in bulk: their indexes are built after the rows (PostgreSQL).
BULK = (Transaction, MeterValue, Invoice, InvoiceLine, ConnectorStatusLog, Command, JournalEntry)
OPERATOR_GROUP = "Operators (generated)"
# Apps whose permissions the generated operator gets (the console's, not user management).
OPERATOR_APPS = ("stations", "drivers", "billing", "ocpp_consumer", "monitoring", "events",
                 "devicemodel", "firmware")  # fmt: skip


class NetworkNotEmpty(Exception):
    """The database already holds a network; --force replaces it."""


def network_generate(
    *,
    spec: NetworkSpec,
    force: bool = False,
    operator: str | None = None,
    operator_password: str | None = None,
    out: Callable[[str], None] = print,
) -> dict:
    """Fill the database with a network of this size; return the row counts.

    Refuses (NetworkNotEmpty) a database that holds stations, charge points,
    sessions, commands or journal rows, unless `force`, which first deletes
    them (and what refers to them) and the drivers an earlier run generated.
    """
    spec = spec.resolved()
    now = (spec.now or timezone.now()).timestamp()
    started = time.perf_counter()
    if force:
        _clear(out)
    else:
        taken = [m._meta.verbose_name_plural for m in OCCUPIED_BY if m.objects.exists()]
        if taken:
            raise NetworkNotEmpty(
                f"the database already holds {', '.join(map(str, taken))}: "
                "use --force to replace them"
            )
    loader = Loader(out)
    out("network: stations, charge points, connectors, drivers, id tags, tariffs")
    network = network_build(spec=spec, loader=loader, now=now, out=out)
    operator_pk = (
        operator_ensure(username=operator, password=operator_password) if operator else None
    )
    counts = {
        "stations": len(network.station_pks),
        "charge_points": len(network.charge_point_pks),
        "connectors": len(network.connectors),
        "drivers": spec.drivers,
        "id_tags": len(network.tag_pks),
    }
    loader.begin_bulk(BULK)
    try:
        out("sessions, meter values, invoices")
        counts.update(sessions_build(spec=spec, loader=loader, network=network, now=now, out=out))
        out("status notifications, commands, message journal")
        counts["status_notifications"] = status_log_build(
            spec=spec, loader=loader, network=network, now=now
        )
        counts["commands"] = commands_build(
            spec=spec, loader=loader, network=network, now=now, operator_pk=operator_pk
        )
        counts["journal_rows"] = journal_build(spec=spec, loader=loader, network=network, now=now)
    finally:
        out("indexes and constraints")
        loader.finish_bulk()
    out("statistics")
    loader.vacuum_analyze((Station, ChargePoint, Connector, IdTag, *BULK))
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def _clear(out) -> None:
    out("clearing the earlier network (--force)")
    if connection.vendor == "postgresql":
        tables = ", ".join(model._meta.db_table for model in CLEARED)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    else:
        with transaction.atomic():
            for model in CLEARED:
                model.objects.all().delete()
    User.objects.filter(username__startswith=OPERATOR_USERNAME_PREFIX).delete()


def operator_ensure(*, username: str, password: str | None) -> int:
    """A staff account with every permission of the console's apps (not user management),
    as an operator has; its password set when given. Returns its primary key."""
    group, _ = Group.objects.get_or_create(name=OPERATOR_GROUP)
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS))
    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    user.is_staff, user.is_active = True, True
    if password:
        user.set_password(password)
    user.save()
    user.groups.add(group)
    return user.pk
