# The revenue of a day or a month (billing.reports, the console's dashboard and
# revenue report) reads the invoices of a period by their issue time.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_tariff_components_and_back_office"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["issued_at"], name="invoice_issued_idx"),
        ),
    ]
