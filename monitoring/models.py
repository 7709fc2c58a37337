"""The service registry: every ASGI process and Celery worker, with its heartbeat."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEFAULT_HEARTBEAT_SECONDS = 10.0
DEFAULT_DEAD_AFTER_SECONDS = 30.0
# However it is configured, a node is never declared dead before it missed
# this many beats: one late beat (a busy database) must not cost it its sockets.
MIN_MISSED_HEARTBEATS = 2


def heartbeat_seconds() -> float:
    return float(getattr(settings, "MONITORING_NODE_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS))


def dead_after_seconds() -> float:
    """How long a node may stay silent before it is dead (and its charge points offline)."""
    configured = float(
        getattr(settings, "MONITORING_NODE_DEAD_AFTER_SECONDS", DEFAULT_DEAD_AFTER_SECONDS)
    )
    return max(configured, heartbeat_seconds() * MIN_MISSED_HEARTBEATS)


def alive_cutoff(now: datetime | None = None) -> datetime:
    """Nodes last seen before this instant are dead."""
    return (now or timezone.now()) - timedelta(seconds=dead_after_seconds())


class NodeKind(models.TextChoices):
    ASGI = "asgi", _("ASGI server")
    CELERY = "celery", _("Celery worker")


class Node(models.Model):
    """One running process of the system, as it last reported itself."""

    node_id = models.CharField(_("node id"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=NodeKind.choices)
    hostname = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    channel_prefix = models.CharField(
        _("channel prefix"),
        max_length=64,
        blank=True,
        help_text=_(
            "The part of its channel-layer channel names that names this process: "
            "a charge point's connection channel tells which node holds its socket."
        ),
    )
    started_at = models.DateTimeField(_("started"))
    last_seen = models.DateTimeField(_("last seen"))
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    beating_since = models.DateTimeField(
        _("beating since"),
        null=True,
        blank=True,
        help_text=_(
            "Start of its current run of heartbeats without a gap: only a node that has "
            "been beating for a while may declare others dead (after a database outage "
            "every node looks silent)."
        ),
    )
    lost_at = models.DateTimeField(
        _("declared lost"),
        null=True,
        blank=True,
        help_text=_(
            "When another process found it dead and took its charge points offline; "
            "cleared if it beats again."
        ),
    )
    connected_charge_points = models.PositiveIntegerField(_("connected charge points"), default=0)
    dashboard_watchers = models.PositiveIntegerField(
        _("dashboard watchers"),
        default=0,
        help_text=_("Open live dashboards served by this process."),
    )

    class Meta:
        verbose_name = _("node")
        verbose_name_plural = _("nodes")
        ordering = ["kind", "hostname", "pid"]
        indexes = [
            models.Index(fields=["last_seen"], name="node_last_seen_idx"),
            models.Index(fields=["channel_prefix"], name="node_channel_prefix_idx"),
        ]

    def __str__(self):
        return f"{self.hostname}:{self.pid}"

    def is_alive(self, now: datetime | None = None) -> bool:
        return self.stopped_at is None and self.last_seen >= alive_cutoff(now)
