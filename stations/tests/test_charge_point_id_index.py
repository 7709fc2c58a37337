"""Migration 0011 on an installation that already holds ids differing only by case.

Nothing is deleted or renamed: the migration succeeds, logs the pairs, and the
index follows with the first `migrate` after an operator resolved them.
"""

import logging

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from stations.charge_point_id_index import (
    CONSTRAINT_NAME,
    chargepoint_case_duplicates,
    chargepoint_id_index_ensure,
)
from stations.models import ChargePoint

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("stations", "0010_session_lifecycle")]
AFTER = [("stations", "0011_charge_point_id_ci_unique")]


def index_exists() -> bool:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "stations_chargepoint")
    return CONSTRAINT_NAME in constraints


def migrate_to(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def without_index():
    """Drop the index as an old installation lacks it; leave the database as found."""
    with connection.schema_editor() as editor:
        editor.remove_constraint(ChargePoint, _constraint())
    yield
    ChargePoint.objects.all().delete()
    call_command("migrate", verbosity=0)  # full schema again, index included
    assert index_exists()


def _constraint():
    return next(c for c in ChargePoint._meta.constraints if c.name == CONSTRAINT_NAME)


def test_the_index_is_in_force_after_migrating():
    assert index_exists()


def test_the_migration_keeps_case_duplicates_and_logs_them(caplog):
    try:
        old_apps = migrate_to(BEFORE)
        assert not index_exists()
        OldChargePoint = old_apps.get_model("stations", "ChargePoint")
        for charge_point_id in ["CP-A", "cp-a", "CP-B", "CP-C ", "cp-c "]:
            OldChargePoint.objects.create(charge_point_id=charge_point_id)
        with caplog.at_level(logging.WARNING, logger="stations.charge_point_id_index"):
            after_apps = migrate_to(AFTER)  # succeeds despite the pairs
        assert not index_exists()
        # The model as of 0011: later migrations add columns this schema lacks yet.
        AfterChargePoint = after_apps.get_model("stations", "ChargePoint")
        stored = AfterChargePoint.objects.values_list("charge_point_id", flat=True)
        assert sorted(stored) == [
            "CP-A",
            "CP-B",
            "CP-C ",
            "cp-a",
            "cp-c ",
        ]
        logged = caplog.text
        assert "'CP-A', 'cp-a'" in logged and "'CP-C ', 'cp-c '" in logged
        assert "now refuses" in logged and "'CP-C '" in logged  # invalid ids reported too

        # The operator resolves the pairs; the next migrate creates the index.
        AfterChargePoint.objects.filter(charge_point_id="cp-a").update(charge_point_id="CP-A2")
        AfterChargePoint.objects.filter(charge_point_id="cp-c ").delete()
        call_command("migrate", verbosity=0)
        assert index_exists()
        with pytest.raises(IntegrityError), transaction.atomic():
            ChargePoint.objects.create(charge_point_id="cp-b")
    finally:
        call_command("migrate", verbosity=0)  # the full schema, whatever happened
        ChargePoint.objects.all().delete()
        call_command("migrate", verbosity=0)  # and the index, now that no pair is left
    assert index_exists()


def test_ensure_reports_pairs_and_creates_nothing_while_they_exist(without_index):
    ChargePoint.objects.bulk_create(  # as stored before ids ignored case
        [ChargePoint(charge_point_id=i) for i in ["CP-X", "cp-x", "Cp-X", "CP-Y"]]
    )
    assert chargepoint_case_duplicates(model=ChargePoint) == [["CP-X", "Cp-X", "cp-x"]]
    with connection.schema_editor() as editor:
        assert chargepoint_id_index_ensure(model=ChargePoint, schema_editor=editor) == [
            ["CP-X", "Cp-X", "cp-x"]
        ]
    assert not index_exists()
    ChargePoint.objects.exclude(charge_point_id__in=["CP-X", "CP-Y"]).delete()
    with connection.schema_editor() as editor:
        assert chargepoint_id_index_ensure(model=ChargePoint, schema_editor=editor) == []
    assert index_exists()
