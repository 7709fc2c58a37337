"""Writes of the monitoring app: the service registry rows, and the sweep of lost nodes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from ocpp_consumer.commands.lost import command_end_node_lost
from stations.models import ChargePoint
from stations.services.sweeps import chargepoint_sweep_lost_process

from .models import Node, NodeKind, alive_cutoff, dead_after_seconds

logger = logging.getLogger(__name__)

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
                "beating_since": now,
                "lost_at": None,
            },
            create_defaults={
                "kind": kind,
                "hostname": hostname,
                "pid": pid,
                "channel_prefix": channel_prefix,
                "started_at": now,
                "last_seen": now,
                "beating_since": now,
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
    its next start only, so 0 tells the caller to register. A beat that
    follows a gap (the previous one older than the dead-after time) starts a
    new run of beats (`beating_since`); one declared lost is alive again.
    """
    now = timezone.now()
    gap = Q(beating_since__isnull=True) | Q(last_seen__lt=alive_cutoff(now))
    fields = {
        "last_seen": now,
        "stopped_at": None,
        "lost_at": None,
        "beating_since": Case(When(gap, then=now), default=F("beating_since")),
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


# --- Lost nodes ---------------------------------------------------------------


@dataclass(frozen=True)
class LostNode:
    node_id: str
    charge_points: list[int]
    commands: int


def node_sweep_lost(*, now: datetime | None = None) -> list[LostNode]:
    """Take the charge points of dead ASGI nodes offline and end their commands.

    Dead: stopped, or silent for MONITORING_NODE_DEAD_AFTER_SECONDS. A
    killed process never runs its sockets' disconnect, so its charge points
    would show online, and take commands nobody reads, until their own
    heartbeat timeout. Each dead node is swept once (`lost_at`), by whichever
    process gets to it first: every ASGI node runs this after its heartbeat,
    and so does Celery beat.

    Nothing is swept unless some node has been beating without a gap for the
    dead-after time: after a database outage every node looks silent, and
    the live ones must first have had the chance to beat again.
    """
    now = now or timezone.now()
    cutoff = alive_cutoff(now)
    alive = Node.objects.filter(stopped_at__isnull=True, last_seen__gte=cutoff)
    steady_since = now - timedelta(seconds=dead_after_seconds())
    if not alive.filter(beating_since__lte=steady_since).exists():
        return []
    dead = Q(stopped_at__isnull=False) | Q(last_seen__lt=cutoff)
    candidates = list(
        Node.objects.filter(dead, kind=NodeKind.ASGI, lost_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if not candidates:
        return []
    live_prefixes = set(
        alive.filter(kind=NodeKind.ASGI)
        .exclude(channel_prefix="")
        .values_list("channel_prefix", flat=True)
    )
    lost = [
        _sweep_one(pk=pk, cutoff=cutoff, live_prefixes=live_prefixes, now=now) for pk in candidates
    ]
    return [node for node in lost if node is not None]


@transaction.atomic
def _sweep_one(
    *, pk: int, cutoff: datetime, live_prefixes: set[str], now: datetime
) -> LostNode | None:
    """Sweep one dead node under its row lock (another sweeper skips it)."""
    dead = Q(stopped_at__isnull=False) | Q(last_seen__lt=cutoff)
    node = (
        Node.objects.select_for_update(skip_locked=True)
        .filter(dead, pk=pk, lost_at__isnull=True)
        .first()
    )
    if node is None:
        return None  # swept by another process, or it beat again meanwhile
    charge_points: list[int] = []
    commands = 0
    # A prefix a live process shares (the in-memory layer has one for all)
    # cannot tell the dead node's sockets from the live one's: left alone.
    if node.channel_prefix and node.channel_prefix not in live_prefixes:
        charge_points = chargepoint_sweep_lost_process(
            channel_marker=f".{node.channel_prefix}!", now=now
        )
        commands = command_end_node_lost(charge_point_pks=charge_points)
    Node.objects.filter(pk=node.pk).update(lost_at=now, connected_charge_points=0)
    if charge_points or commands:
        logger.warning(
            "node %s is dead (last seen %s): %d charge points offline, %d commands ended",
            node.node_id,
            node.last_seen.isoformat(),
            len(charge_points),
            commands,
        )
    return LostNode(node_id=node.node_id, charge_points=charge_points, commands=commands)
