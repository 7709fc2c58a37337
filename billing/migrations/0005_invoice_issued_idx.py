# The revenue of a day or a month (billing.reports, the console's dashboard and
# revenue report) reads the invoices of a period by their issue time; the
# invoice list pages through them newest first.

from django.db import migrations, models

from stations.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    # A large, busy table: built CONCURRENTLY on PostgreSQL (stations.migration_operations).
    atomic = False

    dependencies = [
        ("billing", "0004_tariff_components_and_back_office"),
        ("stations", "0015_smart_charging_201"),
    ]

    operations = [
        AddIndexOnline(
            model_name="invoice",
            index=models.Index(
                fields=["-issued_at", "-id"],
                include=["currency", "net_total", "vat_total", "total", "energy_wh"],
                name="invoice_issued_id_idx",
            ),
        ),
    ]
