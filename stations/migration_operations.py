"""Index operations for tables that may be large and busy when a migration runs.

On PostgreSQL they build and drop indexes CONCURRENTLY, so charge points
keep writing meanwhile; a migration using them sets `atomic = False` (a
concurrent build cannot run in a transaction). Should one be interrupted,
PostgreSQL leaves an INVALID index: drop it (DROP INDEX CONCURRENTLY
<name>) and migrate again. Other databases build them as usual.
"""

import warnings

from django.db import migrations
from django.db.migrations.operations.base import Operation


class AddIndexOnline(migrations.AddIndex):
    """AddIndex, built CONCURRENTLY on PostgreSQL (the table stays writable)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **_online(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_online(schema_editor))


class RemoveIndexOnline(migrations.RemoveIndex):
    """RemoveIndex, dropped CONCURRENTLY on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.remove_index(model, index, **_online(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.add_index(model, index, **_online(schema_editor))


def _online(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


class StampUpdatedAt(Operation):
    """Keep `updated_at` of a model right for every writer, in the database itself.

    `auto_now` stamps only save(); bulk .update() calls, raw SQL and COPY leave
    the column alone, so a sync by updated_at (docs/API.md) would miss those
    rows. A trigger stamps every insert and every update that changes the row
    (other than `ignored` columns, e.g. a heartbeat's time) with the moment of
    the write; an update that changes nothing keeps the old stamp, and one that
    sets only updated_at (an explicit touch) keeps what it set.

    PostgreSQL: a BEFORE trigger comparing the rows as JSON (new columns are
    covered without a new migration); SQLite: an AFTER UPDATE trigger over the
    columns the model has now (save() stamps inserts there, with auto_now).
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, ignored: tuple[str, ...] = ()):
        self.model_name = model_name
        self.ignored = tuple(ignored)

    def deconstruct(self):
        return (self.__class__.__name__, [self.model_name], {"ignored": self.ignored})

    def state_forwards(self, app_label, state):
        pass  # database only

    def describe(self):
        return f"Stamp updated_at of {self.model_name} with a trigger"

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        for statement in _stamp_sql(schema_editor, model, self.ignored):
            schema_editor.execute(statement, params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        table = model._meta.db_table
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS {table}_stamp ON "{table}"')
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_stamp()")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_stamp")


def _stamp_sql(schema_editor, model, ignored: tuple[str, ...]) -> list[str]:
    table = model._meta.db_table
    stamp = model._meta.get_field("updated_at").column
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        skipped = ", ".join(f"'{column}'" for column in (*ignored, stamp))
        return [
            f"""
            CREATE OR REPLACE FUNCTION {table}_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE'
                   AND (to_jsonb(NEW) - ARRAY[{skipped}]) = (to_jsonb(OLD) - ARRAY[{skipped}]) THEN
                    -- Nothing changed but the stamp: keep an explicit touch, else the old one.
                    RETURN NEW;
                END IF;
                NEW.{stamp} := clock_timestamp();
                RETURN NEW;
            END $$
            """,
            f'DROP TRIGGER IF EXISTS {table}_stamp ON "{table}"',
            f'CREATE TRIGGER {table}_stamp BEFORE INSERT OR UPDATE ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION {table}_stamp()",
        ]
    if vendor == "sqlite":
        columns = [
            field.column
            for field in model._meta.concrete_fields
            if field.column not in (*ignored, stamp)
        ]
        changed = " OR ".join(f'NEW."{c}" IS NOT OLD."{c}"' for c in columns)
        pk = model._meta.pk.column
        return [
            f"DROP TRIGGER IF EXISTS {table}_stamp",
            f'CREATE TRIGGER {table}_stamp AFTER UPDATE ON "{table}" FOR EACH ROW '
            f'WHEN NEW."{stamp}" IS OLD."{stamp}" AND ({changed}) BEGIN '
            f"UPDATE \"{table}\" SET \"{stamp}\" = strftime('%Y-%m-%d %H:%M:%f', 'now') "
            f'WHERE "{pk}" = NEW."{pk}"; END',
        ]
    return []


class AddSearchIndexOnline(Operation):
    """A trigram index serving `?search=` (`UPPER(column::text) LIKE '%term%'`) on PostgreSQL.

    Django's icontains compares `UPPER("column"::text)`: a GIN index over that
    expression with pg_trgm's operator class answers it for terms of three
    characters or more, built CONCURRENTLY (the migration sets `atomic =
    False`). pg_trgm is a trusted extension (PostgreSQL 13+): the database's
    owner may create it. Where it cannot be created the index is skipped with
    a warning, and the search works as before, only slower. Other databases:
    nothing (their tables are small).
    """

    reduces_to_sql = False
    reversible = True

    def __init__(self, model_name: str, field_name: str, name: str):
        self.model_name = model_name
        self.field_name = field_name
        self.name = name

    def deconstruct(self):
        return (self.__class__.__name__, [self.model_name, self.field_name, self.name], {})

    def state_forwards(self, app_label, state):
        pass  # database only: the model does not describe expression indexes of one vendor

    def describe(self):
        return f"Trigram search index {self.name} on {self.model_name}.{self.field_name}"

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        if not self.allow_migrate_model(connection.alias, model):
            return
        if not _trigram_available(schema_editor):
            return
        table = model._meta.db_table
        column = model._meta.get_field(self.field_name).column
        # An interrupted concurrent build leaves an INVALID index that IF NOT EXISTS would keep.
        schema_editor.execute(
            f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = "
            f"i.indexrelid WHERE c.relname = '{self.name}' AND NOT i.indisvalid) THEN "
            f"EXECUTE 'DROP INDEX \"{self.name}\"'; END IF; END $$"
        )
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{self.name}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{self.name}"')


def _trigram_available(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone():
            return True
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as error:  # no privilege, or the contrib package is not installed
            warnings.warn(
                f"pg_trgm could not be created ({error}); ?search= runs without its index",
                stacklevel=2,
            )
            return False
    return True
