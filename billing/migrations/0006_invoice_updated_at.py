# Incremental sync of invoices (issue 25): updated_at, kept right by a trigger for every
# writer, with its index; the ?total= range and ordering get theirs.

import django.utils.timezone
from django.db import migrations, models

from stations.migration_operations import AddIndexOnline, StampUpdatedAt


class Migration(migrations.Migration):
    # A large, busy table: indexes built CONCURRENTLY on PostgreSQL.
    atomic = False

    dependencies = [
        ("billing", "0005_invoice_issued_idx"),
    ]

    operations = [
        # Existing invoices take the migration's moment (a constant default: no table rewrite
        # on PostgreSQL 11+); a first sync reads them all anyway.
        migrations.AddField(
            model_name="invoice",
            name="updated_at",
            field=models.DateTimeField(
                auto_now=True, default=django.utils.timezone.now, verbose_name="updated at"
            ),
            preserve_default=False,
        ),
        AddIndexOnline(
            model_name="invoice",
            index=models.Index(fields=["updated_at", "id"], name="invoice_updated_id_idx"),
        ),
        AddIndexOnline(
            model_name="invoice",
            index=models.Index(fields=["total", "id"], name="invoice_total_id_idx"),
        ),
        StampUpdatedAt("invoice"),
    ]
