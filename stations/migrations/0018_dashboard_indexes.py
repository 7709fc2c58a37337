from django.db import migrations, models

from stations.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    # A large, busy table: built CONCURRENTLY on PostgreSQL (stations.migration_operations).
    atomic = False

    dependencies = [
        ("stations", "0017_console_list_indexes"),
    ]

    operations = [
        AddIndexOnline(
            model_name="transaction",
            index=models.Index(
                condition=models.Q(stop_timestamp__isnull=False),
                fields=["stop_timestamp"],
                include=["energy_wh", "status", "dispute_resolution", "disputed_at"],
                name="tx_stop_energy_idx",
            ),
        ),
    ]
