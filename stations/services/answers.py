"""What a charge point's answer to one of our commands changes in our records."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from ..models import ConfigurationKey

Applier = Callable[..., None]
_appliers: dict[str, Applier] = {}


def applies_to(action: str) -> Callable[[Applier], Applier]:
    def register(applier: Applier) -> Applier:
        _appliers[action] = applier
        return applier

    return register


def command_answer_apply(
    *, charge_point_pk: int, action: str, request: dict, response: dict
) -> None:
    """Record the effect of an answered command (a no-op for most actions)."""
    applier = _appliers.get(action)
    if applier is not None:
        applier(charge_point_pk=charge_point_pk, request=request, response=response)


@applies_to("GetConfiguration")
@transaction.atomic
def _configuration_reported(*, charge_point_pk: int, request: dict, response: dict) -> None:
    for item in response.get("configurationKey") or ():
        ConfigurationKey.objects.update_or_create(
            charge_point_id=charge_point_pk,
            key=item["key"],
            defaults={
                "value": item.get("value"),
                "readonly": item.get("readonly", False),
                "is_known": True,
            },
        )
    for key in response.get("unknownKey") or ():
        ConfigurationKey.objects.update_or_create(
            charge_point_id=charge_point_pk,
            key=key,
            defaults={"value": None, "is_known": False},
        )


@applies_to("ChangeConfiguration")
def _configuration_changed(*, charge_point_pk: int, request: dict, response: dict) -> None:
    if response.get("status") not in ("Accepted", "RebootRequired"):
        return
    from .security import REDACTED, SECRET_CONFIGURATION_KEYS, security_configuration_changed

    key, value = request["key"], request["value"]
    security_configuration_changed(charge_point_pk=charge_point_pk, key=key, value=value)
    ConfigurationKey.objects.update_or_create(
        charge_point_id=charge_point_pk,
        key=key,
        defaults={
            "value": REDACTED if key in SECRET_CONFIGURATION_KEYS else value,
            "is_known": True,
        },
    )
