"""Whether the server process holding a socket is still alive (reads only).

The command path asks before it routes a command: a charge point whose
process was found dead is not connected, whatever its row still says in the
seconds before the sweep (services.nodes_sweep_lost) marks it offline.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from orm_support.query_templates import QueryTemplate
from stations.models import ChargePoint

from .models import Node, NodeKind
from .selectors import channel_client_prefix


def channel_node_lost(*, channel_name: str, now: datetime | None = None) -> bool:
    """True when the process owning this channel is known and dead (silent or stopped).

    Unknown (a process outside the registry) or shared with a live process
    (the in-memory layer's one prefix) answers False: only a process known
    dead makes a charge point unreachable.
    """
    prefix = channel_client_prefix(channel_name or "")
    if not prefix:
        return False
    nodes = _NODES_OF_PREFIX.rows(prefix=prefix)
    return bool(nodes) and not any(node.is_alive(now) for node in nodes)


def _nodes_of_prefix(*, prefix: str) -> QuerySet[Node]:
    return Node.objects.filter(kind=NodeKind.ASGI, channel_prefix=prefix).only(
        "pk", "stopped_at", "last_seen"
    )


# Every command asks (8 % of an API node's CPU as an aggregate query): compiled once.
_NODES_OF_PREFIX = QueryTemplate(_nodes_of_prefix)


def chargepoint_reachable(*, charge_point: ChargePoint) -> bool:
    """Connected, through a server process not known dead: a command can reach it."""
    channel = charge_point.connection_channel
    if not (charge_point.is_online and channel):
        return False
    return not channel_node_lost(channel_name=channel)


def node_known_dead(*, node_id: str, now: datetime | None = None) -> bool:
    """True when the registry knows this process and it stopped or went silent."""
    node = Node.objects.filter(node_id=node_id).first() if node_id else None
    return node is not None and not node.is_alive(now)
