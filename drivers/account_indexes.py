"""The database half of "one person, one account": unique indexes on LOWER(username/email).

Installations from before accounts ignored case may hold "alice" next to
"ALICE", or two accounts with one e-mail address. Both are real people's
accounts: nothing here renames, merges or deletes one. An index is created
only where no such group exists; otherwise the groups are logged and every
later `manage.py migrate` (post_migrate) creates the index as soon as an
operator has resolved them. Meanwhile model validation (sign-up, profile,
the console's forms) already refuses new ones, and a sign-in by an
ambiguous spelling finds no one (drivers.models.UserManager).
"""

from __future__ import annotations

import logging

from django.db.models import Count
from django.db.models.functions import Lower

from .models import EMAIL_CONSTRAINT, USERNAME_CONSTRAINT

logger = logging.getLogger(__name__)

# Constraint name -> the field it makes unique ignoring case.
ACCOUNT_CONSTRAINTS = {USERNAME_CONSTRAINT: "username", EMAIL_CONSTRAINT: "email"}


def account_case_duplicates(*, model, field: str) -> list[list[str]]:
    """Groups of values of `field` that are equal ignoring case (blank e-mails left out)."""
    rows = model.objects.exclude(**{field: ""}).annotate(canonical=Lower(field))
    taken = (
        rows.values("canonical")
        .annotate(count=Count("pk"))
        .filter(count__gt=1)
        .values_list("canonical", flat=True)
    )
    groups: dict[str, list[str]] = {}
    for value in (
        rows.filter(canonical__in=list(taken)).order_by(field).values_list(field, flat=True)
    ):
        groups.setdefault(value.lower(), []).append(value)
    return sorted(groups.values())


def account_indexes_ensure(*, model, schema_editor) -> dict[str, list[list[str]]]:
    """Create each missing index that no duplicates block; return the blocking groups.

    Idempotent: an index in force is left alone.
    """
    blocked = {}
    for name, field in ACCOUNT_CONSTRAINTS.items():
        constraint = _constraint(model, name)
        if constraint is None or _index_exists(model, name, schema_editor.connection):
            continue
        duplicates = account_case_duplicates(model=model, field=field)
        if duplicates:
            logger.warning(
                "accounts whose %s differs only by case: %s; the unique index %s waits "
                "until each group is resolved in the console (then run `manage.py "
                "migrate` again). New duplicates are refused meanwhile.",
                field,
                "; ".join(", ".join(repr(value) for value in group) for group in duplicates),
                name,
            )
            blocked[name] = duplicates
            continue
        schema_editor.add_constraint(model, constraint)
    return blocked


def account_indexes_drop(*, model, schema_editor) -> None:
    """Undo of `account_indexes_ensure` (migrating back)."""
    for name in ACCOUNT_CONSTRAINTS:
        constraint = _constraint(model, name)
        if constraint is not None and _index_exists(model, name, schema_editor.connection):
            schema_editor.remove_constraint(model, constraint)


def account_indexes_after_migrate(*, using, apps=None, **kwargs) -> None:
    """post_migrate: create the indexes left out earlier, once their duplicates are gone."""
    from django.db import connections

    if apps is None:  # sent by flush (no schema change), not by migrate
        return
    try:
        model = apps.get_model("drivers", "User")
    except LookupError:  # drivers not migrated in this run
        return
    connection = connections[using]
    missing = [
        name
        for name in ACCOUNT_CONSTRAINTS
        if _constraint(model, name) is not None and not _index_exists(model, name, connection)
    ]
    # Only open a schema editor when there is work (SQLite's refuses inside a transaction).
    if not missing:
        return
    with connection.schema_editor() as schema_editor:
        account_indexes_ensure(model=model, schema_editor=schema_editor)


def _constraint(model, name: str):
    """The constraint as the (possibly historical) model declares it, or None."""
    return next((c for c in model._meta.constraints if c.name == name), None)


def _index_exists(model, name: str, connection) -> bool:
    with connection.cursor() as cursor:
        existing = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return name in existing
