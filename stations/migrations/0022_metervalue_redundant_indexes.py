# Meter values at scale (issue 25): the connector's and the session's own indexes on the
# meter value table go; the sample unique constraint and metervalue_tx_time_idx start with
# those columns and serve the same lookups (about 8 % of the table's index space).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("stations", "0021_transaction_id_tag_search"),
    ]

    operations = [
        migrations.AlterField(
            model_name="metervalue",
            name="connector",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="meter_values",
                to="stations.connector",
                verbose_name="connector",
            ),
        ),
        migrations.AlterField(
            model_name="metervalue",
            name="transaction",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="meter_values",
                to="stations.transaction",
                verbose_name="transaction",
            ),
        ),
    ]
