"""The database half of "one identity, one charge point": a unique index on LOWER(id).

Installations from before ids ignored case may hold pairs such as "CP-A" and
"cp-a". Each is a real charger whose URL carries its id, so nothing here
renames or deletes one: the index is created only where no such pair exists.
Otherwise the pairs are logged, stay connectable under their exact ids, and
every later `manage.py migrate` (post_migrate) creates the index as soon as an
operator has renamed or removed one of each pair. Meanwhile model validation
(admin, API, auto-registration) and the handshake already refuse new pairs.
"""

from __future__ import annotations

import logging

from django.db.models import Count
from django.db.models.functions import Lower

from .models.validators import charge_point_id_is_valid

logger = logging.getLogger(__name__)

CONSTRAINT_NAME = "chargepoint_charge_point_id_ci_unique"


def chargepoint_case_duplicates(*, model) -> list[list[str]]:
    """Groups of ids that differ only by case (`model`: ChargePoint, also a historical one)."""
    canonical_ids = (
        model.objects.annotate(canonical=Lower("charge_point_id"))
        .values("canonical")
        .annotate(count=Count("pk"))
        .filter(count__gt=1)
        .values_list("canonical", flat=True)
    )
    groups: dict[str, list[str]] = {}
    for charge_point_id in (
        model.objects.annotate(canonical=Lower("charge_point_id"))
        .filter(canonical__in=list(canonical_ids))
        .order_by("charge_point_id")
        .values_list("charge_point_id", flat=True)
    ):
        groups.setdefault(charge_point_id.lower(), []).append(charge_point_id)
    return sorted(groups.values())


def chargepoint_ids_invalid(*, model) -> list[str]:
    """Stored ids the id rule refuses today (surrounding or double spaces, ...).

    They are kept (real chargers, history), but logged: such a charger can no
    longer connect until an operator gives it a valid id.
    """
    invalid = [
        charge_point_id
        for charge_point_id in model.objects.order_by("charge_point_id").values_list(
            "charge_point_id", flat=True
        )
        if not charge_point_id_is_valid(charge_point_id)
    ]
    if invalid:
        logger.warning(
            "charge point ids the id rule now refuses (they cannot connect until renamed): %s",
            ", ".join(repr(charge_point_id) for charge_point_id in invalid),
        )
    return invalid


def chargepoint_id_index_ensure(*, model, schema_editor) -> list[list[str]]:
    """Create the case-insensitive unique index unless it exists or pairs block it.

    Returns the blocking pairs (empty once the index is in force). Idempotent.
    """
    constraint = _constraint(model)
    if constraint is None or _index_exists(model=model, connection=schema_editor.connection):
        return []
    duplicates = chargepoint_case_duplicates(model=model)
    if duplicates:
        logger.warning(
            "charge point ids that differ only by case: %s; the case-insensitive unique "
            "index %s waits until one of each group is renamed or deleted (then run "
            "`manage.py migrate` again). Until then each connects under its exact id only.",
            "; ".join(", ".join(repr(i) for i in group) for group in duplicates),
            CONSTRAINT_NAME,
        )
        return duplicates
    schema_editor.add_constraint(model, constraint)
    return []


def chargepoint_id_index_drop(*, model, schema_editor) -> None:
    """Undo of `chargepoint_id_index_ensure` (migrating back)."""
    constraint = _constraint(model)
    if constraint is not None and _index_exists(model=model, connection=schema_editor.connection):
        schema_editor.remove_constraint(model, constraint)


def chargepoint_id_index_after_migrate(*, using, apps=None, **kwargs) -> None:
    """post_migrate: create the index left out earlier, once its pairs are gone."""
    from django.db import connections

    if apps is None:  # sent by flush (no schema change), not by migrate
        return
    try:
        model = apps.get_model("stations", "ChargePoint")
    except LookupError:  # stations not migrated in this run
        return
    connection = connections[using]
    # Only open a schema editor when there is work (SQLite's refuses to open
    # inside a transaction).
    if _constraint(model) is None or _index_exists(model=model, connection=connection):
        return
    with connection.schema_editor() as schema_editor:
        chargepoint_id_index_ensure(model=model, schema_editor=schema_editor)


def _constraint(model):
    """The constraint as the (possibly historical) model declares it, or None."""
    return next((c for c in model._meta.constraints if c.name == CONSTRAINT_NAME), None)


def _index_exists(*, model, connection) -> bool:
    with connection.cursor() as cursor:
        existing = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return CONSTRAINT_NAME in existing
