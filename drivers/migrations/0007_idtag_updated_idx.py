# Incremental sync of id tags (issue 25): the updated_at index, and a trigger that keeps
# updated_at right for every writer (bulk blocking, admin actions, raw SQL); the list's
# order by id tag gets its index (a network of a million cards sorted them per page).

from django.db import migrations, models

from stations.migration_operations import StampUpdatedAt


class Migration(migrations.Migration):
    dependencies = [
        ("drivers", "0006_device_tokens"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="idtag",
            index=models.Index(fields=["updated_at", "id"], name="idtag_updated_id_idx"),
        ),
        migrations.AddIndex(
            model_name="idtag",
            index=models.Index(fields=["id_tag", "id"], name="idtag_id_tag_id_idx"),
        ),
        StampUpdatedAt("idtag"),
    ]
