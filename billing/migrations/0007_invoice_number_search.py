# ?search= on invoices (issue 25): a trigram index on the number, PostgreSQL only.

from django.db import migrations

from stations.migration_operations import AddSearchIndexOnline


class Migration(migrations.Migration):
    # A large, busy table: the index is built CONCURRENTLY on PostgreSQL.
    atomic = False

    dependencies = [
        ("billing", "0006_invoice_updated_at"),
    ]

    operations = [
        AddSearchIndexOnline("invoice", "number", "invoice_number_trgm"),
    ]
