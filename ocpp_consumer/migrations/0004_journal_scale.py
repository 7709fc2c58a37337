"""The message journal at network scale: an index for each way it is read, labels of its types.

The journal may already hold hundreds of millions of rows while charge
points keep writing to it: on PostgreSQL the new indexes are built with
CREATE INDEX CONCURRENTLY (writes go on; the migration is not atomic for
that reason) before the ones they replace are dropped. On a large table
this migration takes minutes. Should it be interrupted, PostgreSQL leaves an
INVALID index behind: drop it (DROP INDEX CONCURRENTLY <name>) and migrate
again.
"""

import django.db.models.deletion
from django.db import migrations, models

from stations.migration_operations import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):

    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ('ocpp_consumer', '0003_command_outcome_and_session'),
    ]

    operations = [
        migrations.AlterField(
            model_name='journalentry',
            name='message_type',
            field=models.PositiveSmallIntegerField(blank=True, choices=[(2, 'CALL'), (3, 'CALLRESULT'), (4, 'CALLERROR')], help_text='Empty for a frame that did not parse.', null=True, verbose_name='message type'),
        ),
        AddIndexOnline(
            model_name='journalentry',
            index=models.Index(fields=['timestamp', 'id'], name='journal_time_idx'),
        ),
        AddIndexOnline(
            model_name='journalentry',
            index=models.Index(fields=['unique_id', 'charge_point'], name='journal_uid_cp_idx'),
        ),
        AddIndexOnline(
            model_name='journalentry',
            index=models.Index(fields=['action', '-timestamp'], name='journal_action_time_idx'),
        ),
        AddIndexOnline(
            model_name='journalentry',
            index=models.Index(condition=models.Q(('message_type', 4), ('message_type__isnull', True), _connector='OR'), fields=['message_type', '-timestamp'], name='journal_errors_time_idx'),
        ),
        # Replaced by the indexes above: journal_uid_cp_idx, journal_time_idx and
        # journal_cp_time_idx (which starts with the charge point's key).
        RemoveIndexOnline(
            model_name='journalentry',
            name='journal_cp_uid_idx',
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='timestamp',
            field=models.DateTimeField(verbose_name='timestamp'),
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='charge_point',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='journal', to='stations.chargepoint', verbose_name='charge point'),
        ),
    ]
