from django.conf import settings
from django.db import migrations


def create_default_tariff(apps, schema_editor):
    """Give every installation a default tariff, so that sessions are invoiced.

    Its price is zero until the operator sets one in the admin.
    """
    Tariff = apps.get_model("billing", "Tariff")
    if not Tariff.objects.filter(is_default=True).exists():
        Tariff.objects.create(
            name="Default",
            currency=settings.BILLING_DEFAULT_CURRENCY,
            is_default=True,
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]

    operations = [migrations.RunPython(create_default_tariff, migrations.RunPython.noop)]
