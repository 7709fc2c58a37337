"""Writes of the monitoring app: the service registry rows."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from stations.models import ChargePoint

from .models import Node

# Rows of nodes silent this long are deleted when another node registers.
NODE_RETENTION = timedelta(days=7)


def node_register(
    *, node_id: str, kind: str, hostname: str, pid: int, channel_prefix: str = ""
) -> Node:
    """Record a process that starts (idempotent); forget long-dead ones."""
    now = timezone.now()
    with transaction.atomic():
        node, _ = Node.objects.update_or_create(
            node_id=node_id,
            defaults={
                "kind": kind,
                "hostname": hostname,
                "pid": pid,
                "channel_prefix": channel_prefix,
                "last_seen": now,
                "stopped_at": None,
            },
            create_defaults={
                "kind": kind,
                "hostname": hostname,
                "pid": pid,
                "channel_prefix": channel_prefix,
                "started_at": now,
                "last_seen": now,
            },
        )
    Node.objects.filter(last_seen__lt=now - NODE_RETENTION).delete()
    return node


def node_connected_count(*, channel_stem: str) -> int:
    """Charge points whose socket a process holds: its channel names start with the stem."""
    if not channel_stem:
        return 0
    return ChargePoint.objects.filter(
        is_online=True, connection_channel__startswith=channel_stem
    ).count()


def node_beat(
    *, node_id: str, channel_stem: str = "", dashboard_watchers: int | None = None
) -> int:
    """Record that a node is alive, with its connected charge points; returns rows updated.

    A node the registry lost (pruned, database restored) registers again on
    its next start only, so 0 tells the caller to register.
    """
    fields = {
        "last_seen": timezone.now(),
        "stopped_at": None,
        "connected_charge_points": node_connected_count(channel_stem=channel_stem),
    }
    if dashboard_watchers is not None:
        fields["dashboard_watchers"] = dashboard_watchers
    return Node.objects.filter(node_id=node_id).update(**fields)


def node_set_watchers(*, node_id: str, dashboard_watchers: int) -> int:
    return Node.objects.filter(node_id=node_id).update(
        dashboard_watchers=dashboard_watchers, last_seen=timezone.now(), stopped_at=None
    )


def node_stop(*, node_id: str) -> int:
    """Record a clean shutdown."""
    return Node.objects.filter(node_id=node_id).update(
        stopped_at=timezone.now(), connected_charge_points=0, dashboard_watchers=0
    )
