"""Commands whose socket was held by a server process that died: they end at once.

A consumer records the outcome of its commands itself, and on a clean
disconnect ends what was queued or in flight as `offline`
(call_queue.call_queue_close). A killed process does neither: its commands
would stay `pending` or `sent` for good, and their callers would wait for
the timeout. The sweep that finds the process dead ends them here, the way
its disconnect would have.
"""

from __future__ import annotations

from django.utils import timezone

from ..models import Command, CommandStatus

NODE_LOST = "node lost: the server process holding the connection stopped before the answer"


def command_end_node_lost(*, charge_point_pks: list[int]) -> int:
    """End the unfinished commands of charge points whose process was lost; return how many.

    Only commands of charge points that were still connected through that
    process come here, so none of them can be in the hands of a live consumer.
    """
    if not charge_point_pks:
        return 0
    return Command.objects.filter(
        charge_point_id__in=charge_point_pks,
        status__in=[CommandStatus.PENDING, CommandStatus.SENT],
    ).update(status=CommandStatus.OFFLINE, answered_at=timezone.now(), error_description=NODE_LOST)
