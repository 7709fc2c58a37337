"""The domain events: what happened, in the domain's own words.

A service records one of these in the same database transaction as the
change it describes (`events.services.event_record`); subscribers react to
them after the commit. Payloads hold primary keys and small neutral values,
never model instances or protocol messages: a subscriber reads the current
state it needs when it runs.
"""

from django.db import models


class EventKind(models.TextChoices):
    # payload: {"charge_point": pk}
    CHARGE_POINT_CONNECTED = "charge_point.connected", "Charge point connected"
    # payload: {"charge_points": [pk, ...]} (a sweep marks many offline at once)
    CHARGE_POINTS_DISCONNECTED = "charge_points.disconnected", "Charge points disconnected"
    # payload: {"charge_point": pk, "connector": pk, "status": str}
    CONNECTOR_STATUS_CHANGED = "connector.status_changed", "Connector status changed"
    # payload: {"charge_point": pk, "transaction": pk}
    SESSION_STARTED = "session.started", "Session started"
    # payload: {"charge_point": pk, "transaction": pk, "energy_wh": int}
    SESSION_ENDED = "session.ended", "Session ended"
    # payload: {"charge_point": pk, "transaction": pk, "reasons": [str, ...]}
    SESSION_DISPUTED = "session.disputed", "Session disputed"
    # payload: {"charge_point": pk, "transaction": pk, "resolution": str}
    SESSION_DISPUTE_RESOLVED = "session.dispute_resolved", "Session dispute resolved"
    # payload: {"invoice": pk, "transaction": pk, "total": str, "currency": str}
    INVOICE_ISSUED = "invoice.issued", "Invoice issued"
