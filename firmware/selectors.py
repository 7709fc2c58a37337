"""Reads of the files app: campaign progress for the console and the report."""

from __future__ import annotations

from django.db.models import Count

from .choices import TargetState
from .models import CampaignTarget


def campaign_progress(*, campaign_pk: int) -> dict[str, int]:
    """Targets per state, every state present (zero included)."""
    counts = dict(
        CampaignTarget.objects.filter(campaign_id=campaign_pk)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return {state.value: counts.get(state.value, 0) for state in TargetState}
