# The API at network scale (issue 25): indexes for every documented filter and ordering of
# the session list, and an updated_at that every writer keeps right (a trigger), for the
# incremental sync of sessions and charge points (?updated_since=, cursor pages).

from django.db import migrations, models

from stations.migration_operations import AddIndexOnline, StampUpdatedAt


class Migration(migrations.Migration):
    # Large, busy tables: built CONCURRENTLY on PostgreSQL (stations.migration_operations).
    atomic = False

    dependencies = [
        ("stations", "0018_dashboard_indexes"),
    ]

    operations = [
        AddIndexOnline(
            model_name="transaction",
            index=models.Index(
                fields=["connector", "-start_timestamp", "-id"], name="tx_connector_start_idx"
            ),
        ),
        AddIndexOnline(
            model_name="transaction",
            index=models.Index(
                fields=["status", "-start_timestamp", "-id"], name="tx_status_start_idx"
            ),
        ),
        AddIndexOnline(
            model_name="transaction",
            index=models.Index(fields=["stop_timestamp", "id"], name="tx_stop_id_idx"),
        ),
        AddIndexOnline(
            model_name="transaction",
            index=models.Index(fields=["energy_wh", "id"], name="tx_energy_id_idx"),
        ),
        AddIndexOnline(
            model_name="transaction",
            index=models.Index(fields=["updated_at", "id"], name="tx_updated_id_idx"),
        ),
        AddIndexOnline(
            model_name="transaction",
            index=models.Index(
                fields=["ocpp_transaction_id"],
                name="tx_ocpp_id_idx",
                condition=~models.Q(ocpp_transaction_id=""),
            ),
        ),
        AddIndexOnline(
            model_name="chargepoint",
            index=models.Index(fields=["updated_at", "id"], name="chargepoint_updated_id_idx"),
        ),
        StampUpdatedAt("transaction"),
        # A heartbeat or a reconnect of the same socket is no change an integrator syncs.
        StampUpdatedAt(
            "chargepoint", ignored=("last_heartbeat", "last_seen", "connection_channel")
        ),
    ]
