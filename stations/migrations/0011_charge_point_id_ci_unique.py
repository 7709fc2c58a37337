"""Charge point ids unique ignoring case ("CP-A" and "cp-a" are one identity).

The constraint joins the model state at once (model validation refuses new
look-alikes everywhere); the database index is created only when no stored
pair blocks it. Existing pairs are real chargers: they are neither renamed nor
deleted, but logged, and a later `migrate` creates the index once an operator
has resolved them (stations/charge_point_id_index.py).
"""

import django.db.models.functions.text
from django.db import migrations, models

from stations.charge_point_id_index import (
    chargepoint_id_index_drop,
    chargepoint_id_index_ensure,
    chargepoint_ids_invalid,
)


def create_index_unless_duplicates(apps, schema_editor):
    model = apps.get_model("stations", "ChargePoint")
    chargepoint_id_index_ensure(model=model, schema_editor=schema_editor)
    chargepoint_ids_invalid(model=model)  # logs them


def drop_index(apps, schema_editor):
    model = apps.get_model("stations", "ChargePoint")
    chargepoint_id_index_drop(model=model, schema_editor=schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('stations', '0010_session_lifecycle'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(
                    model_name='chargepoint',
                    constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('charge_point_id'), name='chargepoint_charge_point_id_ci_unique', violation_error_code='charge_point_id_taken', violation_error_message='A charge point with this id exists (charge point ids ignore case).'),
                ),
            ],
        ),
        migrations.RunPython(create_index_unless_duplicates, drop_index),
    ]
