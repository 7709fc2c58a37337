# ?search= on sessions (issue 25): a trigram index on the id tag, PostgreSQL only.

from django.db import migrations

from stations.migration_operations import AddSearchIndexOnline


class Migration(migrations.Migration):
    # A large, busy table: the index is built CONCURRENTLY on PostgreSQL.
    atomic = False

    dependencies = [
        ("stations", "0020_meter_rollups"),
    ]

    operations = [
        AddSearchIndexOnline("transaction", "id_tag", "transaction_id_tag_trgm"),
    ]
