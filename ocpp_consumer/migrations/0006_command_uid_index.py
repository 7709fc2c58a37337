# The command history searched by message id (console and API) without reading every
# command: an index on unique_id, built CONCURRENTLY on PostgreSQL.

from django.db import migrations, models

from stations.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ocpp_consumer", "0005_console_list_indexes"),
    ]

    operations = [
        AddIndexOnline(
            model_name="command",
            index=models.Index(fields=["unique_id"], name="command_uid_idx"),
        ),
    ]
