# Meter values at scale (issue 25): per-session, per-interval roll-ups of the raw samples,
# the record of which sessions were rolled up and pruned, and an index for the retention
# sweep's samples without a session (built CONCURRENTLY on PostgreSQL: the table is large).

import django.db.models.deletion
from django.db import migrations, models

from stations.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    # The index on the (large, busy) meter value table is built CONCURRENTLY on PostgreSQL.
    atomic = False

    dependencies = [
        ("stations", "0019_api_list_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="MeterValueRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("measurand", models.CharField(max_length=48, verbose_name="measurand")),
                ("phase", models.CharField(blank=True, max_length=8, verbose_name="phase")),
                ("unit", models.CharField(max_length=16, verbose_name="unit")),
                ("interval_start", models.DateTimeField(verbose_name="interval start")),
                ("first_at", models.DateTimeField(verbose_name="first sample at")),
                (
                    "first_value",
                    models.DecimalField(
                        decimal_places=6, max_digits=24, verbose_name="first value"
                    ),
                ),
                ("last_at", models.DateTimeField(verbose_name="last sample at")),
                (
                    "last_value",
                    models.DecimalField(decimal_places=6, max_digits=24, verbose_name="last value"),
                ),
                (
                    "min_value",
                    models.DecimalField(decimal_places=6, max_digits=24, verbose_name="minimum"),
                ),
                (
                    "max_value",
                    models.DecimalField(decimal_places=6, max_digits=24, verbose_name="maximum"),
                ),
                (
                    "avg_value",
                    models.DecimalField(decimal_places=6, max_digits=24, verbose_name="average"),
                ),
                ("sample_count", models.PositiveIntegerField(verbose_name="samples")),
            ],
            options={
                "verbose_name": "meter value roll-up",
                "verbose_name_plural": "meter value roll-ups",
                "ordering": ["interval_start", "id"],
            },
        ),
        migrations.CreateModel(
            name="SessionMeterRollup",
            fields=[
                (
                    "transaction",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="meter_rollup",
                        serialize=False,
                        to="stations.transaction",
                        verbose_name="transaction",
                    ),
                ),
                (
                    "interval_seconds",
                    models.PositiveIntegerField(verbose_name="interval (seconds)"),
                ),
                (
                    "session_stopped_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="session stopped at"),
                ),
                (
                    "rolled_up_until",
                    models.DateTimeField(blank=True, null=True, verbose_name="rolled up until"),
                ),
                ("rolled_up_at", models.DateTimeField(verbose_name="rolled up at")),
                (
                    "sample_count",
                    models.PositiveIntegerField(
                        default=0, verbose_name="numeric samples rolled up"
                    ),
                ),
                (
                    "raw_deleted_at",
                    models.DateTimeField(
                        blank=True, null=True, verbose_name="raw samples deleted at"
                    ),
                ),
                (
                    "raw_deleted_count",
                    models.PositiveIntegerField(default=0, verbose_name="raw samples deleted"),
                ),
            ],
            options={
                "verbose_name": "session meter roll-up",
                "verbose_name_plural": "session meter roll-ups",
            },
        ),
        migrations.AddField(
            model_name="metervaluerollup",
            name="transaction",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="meter_value_rollups",
                to="stations.transaction",
                verbose_name="transaction",
            ),
        ),
        migrations.AddIndex(
            model_name="sessionmeterrollup",
            index=models.Index(
                condition=models.Q(
                    ("raw_deleted_at__isnull", True), ("session_stopped_at__isnull", False)
                ),
                fields=["session_stopped_at"],
                name="meter_rollup_prunable_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="metervaluerollup",
            constraint=models.UniqueConstraint(
                fields=("transaction", "measurand", "phase", "unit", "interval_start"),
                name="metervalue_rollup_unique",
            ),
        ),
        AddIndexOnline(
            model_name="metervalue",
            index=models.Index(
                condition=models.Q(("transaction__isnull", True)),
                fields=["received_at", "id"],
                name="metervalue_unlinked_idx",
            ),
        ),
    ]
